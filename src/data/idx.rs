//! Reading and writing IDX files, the format Fashion-MNIST ships in: a big-endian header
//! (magic number, item count, and for images rows and columns) followed by one byte per
//! pixel or label. Files are usually gzip-compressed; uncompressed copies are accepted too.
//!
//! Nothing is allocated from header values alone: the declared size is compared with what
//! actually follows, and decompression stops at [`MAX_PAYLOAD`] so a hostile header or a
//! gzip bomb cannot exhaust memory.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Instant;

use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::{
    DataError, IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES,
    TRAIN_LABELS,
};

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGE_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABEL_MAGIC: u32 = 0x0000_0801;
/// Largest payload accepted from one file. The biggest real file holds 47 040 000 bytes.
pub const MAX_PAYLOAD: u64 = 100_000_000;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Images (n × 784 bytes, row-major 28×28, 0 = background) and labels of one split.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Split {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 784 pixels of image `i`. Panics if `i >= self.len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]
    }

    /// Keep the first `n` images and labels (all of them if there are fewer).
    pub fn truncate(&mut self, n: usize) {
        self.labels.truncate(n);
        self.images.truncate(n.saturating_mul(IMAGE_PIXELS));
    }
}

/// Printing 47 MB of pixels helps nobody: show the size only.
impl fmt::Debug for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Split").field("len", &self.len()).finish()
    }
}

/// Both splits of the dataset, as read by [`load_dir`].
#[derive(Clone, Debug)]
pub struct Dataset {
    pub train: Split,
    pub test: Split,
    /// Training images held out to choose the best epoch by (`data.validation`); empty
    /// as read, filled by the trainer.
    pub validation: Split,
    /// Directory it was read from.
    pub dir: PathBuf,
    /// Wall-clock seconds spent reading and decompressing.
    pub load_secs: f64,
}

/// What fixes a bad data file, said at the end of its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repair {
    /// Missing files are downloaded into its directory: delete it and run again.
    Refetch,
    /// Nothing is ever downloaded into its directory (one named with `--data-dir`).
    Replace,
}

impl Repair {
    /// The advice for one file (`it`) or a pair (`both`).
    fn advice(self, both: bool) -> String {
        let it = if both { "both" } else { "it" };
        match self {
            Repair::Refetch => format!("delete {it} and run again to download a fresh copy"),
            Repair::Replace => format!(
                "replace {it} with {}, or drop --data-dir to use the default location \
                 (where missing files are downloaded)",
                if both {
                    "intact copies of the originals"
                } else {
                    "an intact copy of the original"
                }
            ),
        }
    }
}

/// Reads the four Fashion-MNIST files from `dir`, decompressing the training images on a
/// second thread, and checks that each split has as many labels as images, and some.
pub fn load_dir(dir: &Path, repair: Repair) -> Result<Dataset, DataError> {
    let start = Instant::now();
    let (train_images, others) = thread::scope(|s| {
        let big = s.spawn(|| read_file(&dir.join(TRAIN_IMAGES), Kind::Images, Some(repair)));
        let others = read_file(&dir.join(TRAIN_LABELS), Kind::Labels, Some(repair)).and_then(
            |train_labels| {
                let test_images = read_file(&dir.join(TEST_IMAGES), Kind::Images, Some(repair))?;
                let test_labels = read_file(&dir.join(TEST_LABELS), Kind::Labels, Some(repair))?;
                Ok((train_labels, test_images, test_labels))
            },
        );
        let train_images = match big.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (train_images, others)
    });
    let train_images = train_images?;
    let (train_labels, test_images, test_labels) = others?;
    let train = pair(dir, TRAIN, train_images, train_labels, repair)?;
    let test = pair(dir, TEST, test_images, test_labels, repair)?;
    Ok(Dataset {
        train,
        test,
        validation: Split::default(),
        dir: dir.to_path_buf(),
        load_secs: start.elapsed().as_secs_f64(),
    })
}

/// Reads only the test split from `dir` (what evaluating a model needs), checked like
/// [`load_dir`] checks it.
pub fn load_test(dir: &Path, repair: Repair) -> Result<Split, DataError> {
    let images = read_file(&dir.join(TEST_IMAGES), Kind::Images, Some(repair))?;
    let labels = read_file(&dir.join(TEST_LABELS), Kind::Labels, Some(repair))?;
    pair(dir, TEST, images, labels, repair)
}

/// A split's name and its two files.
struct SplitFiles {
    name: &'static str,
    images: &'static str,
    labels: &'static str,
}

const TRAIN: SplitFiles = SplitFiles {
    name: "training",
    images: TRAIN_IMAGES,
    labels: TRAIN_LABELS,
};
const TEST: SplitFiles = SplitFiles {
    name: "test",
    images: TEST_IMAGES,
    labels: TEST_LABELS,
};

fn pair(
    dir: &Path,
    files: SplitFiles,
    images: Vec<u8>,
    labels: Vec<u8>,
    repair: Repair,
) -> Result<Split, DataError> {
    let n_images = images.len() / IMAGE_PIXELS;
    let SplitFiles {
        name,
        images: images_name,
        labels: labels_name,
    } = files;
    let reason = if n_images != labels.len() {
        format!(
            "{images_name} holds {n_images} images but {labels_name} holds {} labels, \
             so they do not belong together; {}",
            labels.len(),
            repair.advice(true)
        )
    } else if n_images == 0 {
        format!(
            "the {name} set is empty: {images_name} and {labels_name} hold no images; {}",
            repair.advice(true)
        )
    } else {
        return Ok(Split { images, labels });
    };
    Err(DataError::Invalid {
        file: dir.display().to_string(),
        reason,
    })
}

/// Reads an image file and returns its pixels (n × 784 bytes).
///
/// If `path` ends in `.gz` and does not exist, an uncompressed file of the same name without
/// `.gz` is read instead.
pub fn read_images(path: &Path) -> Result<Vec<u8>, DataError> {
    read_file(path, Kind::Images, Some(Repair::Refetch))
}

/// Reads an image file a user brought (to classify): checked as [`read_images`] checks
/// the dataset's, but a bad one's message gives no advice about downloading a fresh copy.
pub fn read_own_images(path: &Path) -> Result<Vec<u8>, DataError> {
    read_file(path, Kind::Images, None)
}

/// Reads a label file and returns its labels, each checked to be in `0..10`.
///
/// Falls back to an uncompressed file like [`read_images`].
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    read_file(path, Kind::Labels, Some(Repair::Refetch))
}

/// Parses an uncompressed image file held in memory; `file` names it in errors.
pub fn parse_images(file: &str, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    decode(Kind::Images, bytes, bytes.len() as u64).map_err(|bad| bad.into_error(file, None))
}

/// Parses an uncompressed label file held in memory; `file` names it in errors.
pub fn parse_labels(file: &str, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    decode(Kind::Labels, bytes, bytes.len() as u64).map_err(|bad| bad.into_error(file, None))
}

/// Where the file `name` (e.g. `train-images-idx3-ubyte.gz`) lives in `dir`: the name itself,
/// or, for a `.gz` name, the uncompressed file without `.gz`. `None` if neither exists.
pub fn file_in(dir: &Path, name: &str) -> Option<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        return Some(path);
    }
    let plain = dir.join(name.strip_suffix(".gz")?);
    plain.is_file().then_some(plain)
}

/// Reads one IDX file; a bad one's message ends with `repair`'s advice when a new copy
/// would fix it.
fn read_file(path: &Path, kind: Kind, repair: Option<Repair>) -> Result<Vec<u8>, DataError> {
    let path = match (path.exists(), path.parent(), path.file_name()) {
        (false, Some(dir), Some(name)) => {
            file_in(dir, &name.to_string_lossy()).unwrap_or_else(|| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    };
    let bytes = fs::read(&path).map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => DataError::Missing { path: path.clone() },
        _ => DataError::Io {
            path: path.clone(),
            error,
        },
    })?;
    let named_gz = path.extension().is_some_and(|ext| ext == "gz");
    let result = if bytes.is_empty() {
        Err(Bad::corrupt("the file is empty (interrupted download?)"))
    } else if bytes.starts_with(&GZIP_MAGIC) {
        decode(
            kind,
            MultiGzDecoder::new(&bytes[..]),
            gzip_size_hint(&bytes),
        )
    } else if named_gz && !bytes.starts_with(&[0, 0, 8]) {
        Err(Bad::corrupt("not a gzip file (corrupt download?)"))
    } else {
        // Already decompressed, whatever the name says.
        decode(kind, &bytes[..], bytes.len() as u64)
    };
    result.map_err(|bad| bad.into_error(&path.display().to_string(), repair))
}

/// The uncompressed size a gzip file declares in its last four bytes (modulo 4 GiB, and
/// only of the last member). Used only to size a buffer, never trusted beyond that.
fn gzip_size_hint(bytes: &[u8]) -> u64 {
    match bytes.len().checked_sub(4).map(|at| &bytes[at..]) {
        Some(&[a, b, c, d]) => u64::from(u32::from_le_bytes([a, b, c, d])),
        _ => 0,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGE_MAGIC,
            Kind::Labels => LABEL_MAGIC,
        }
    }

    fn header_len(self) -> usize {
        match self {
            Kind::Images => 16,
            Kind::Labels => 8,
        }
    }

    fn item_len(self) -> u64 {
        match self {
            Kind::Images => IMAGE_PIXELS as u64,
            Kind::Labels => 1,
        }
    }

    fn items(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }

    fn a_file(self) -> &'static str {
        match self {
            Kind::Images => "an image file",
            Kind::Labels => "a label file",
        }
    }

    fn other(self) -> Kind {
        match self {
            Kind::Images => Kind::Labels,
            Kind::Labels => Kind::Images,
        }
    }
}

/// What is wrong with a file, before we know how to name it.
struct Bad {
    reason: String,
    /// A fresh download would fix it (as opposed to, say, swapped files).
    refetch: bool,
}

impl Bad {
    fn corrupt(reason: impl Into<String>) -> Bad {
        Bad {
            reason: reason.into(),
            refetch: true,
        }
    }

    /// `repair` is how a file on disk is repaired (`None` for bytes in memory).
    fn into_error(self, file: &str, repair: Option<Repair>) -> DataError {
        let reason = match repair {
            Some(repair) if self.refetch => format!("{}; {}", self.reason, repair.advice(false)),
            _ => self.reason,
        };
        DataError::Invalid {
            file: file.to_owned(),
            reason,
        }
    }
}

/// Reads one IDX stream of the expected kind and returns its payload (the bytes after the
/// header). `size_hint` bounds the initial allocation together with the header's claim.
fn decode(kind: Kind, mut r: impl Read, size_hint: u64) -> Result<Vec<u8>, Bad> {
    let read_failed =
        |e: io::Error| Bad::corrupt(format!("cannot decompress: {e} (corrupt download?)"));

    let mut head = [0u8; 16];
    let head_len = read_up_to(&mut r, &mut head[..kind.header_len()]).map_err(read_failed)?;
    let head = &head[..head_len];
    if head.is_empty() {
        return Err(Bad::corrupt("the file is empty (interrupted download?)"));
    }
    let Some(magic) = be_u32(head, 0) else {
        return Err(Bad::corrupt(format!(
            "only {head_len} bytes long, too short to be an IDX file"
        )));
    };
    if magic != kind.magic() {
        return Err(wrong_magic(kind, magic, head));
    }
    let (Some(count), dims) = (be_u32(head, 4), (be_u32(head, 8), be_u32(head, 12))) else {
        return Err(Bad::corrupt(format!(
            "truncated: the file ends inside its {}-byte header",
            kind.header_len()
        )));
    };
    if kind == Kind::Images {
        let (Some(rows), Some(cols)) = dims else {
            return Err(Bad::corrupt(format!(
                "truncated: the file ends inside its {}-byte header",
                kind.header_len()
            )));
        };
        if (rows, cols) != (IMAGE_SIDE as u32, IMAGE_SIDE as u32) {
            return Err(Bad::corrupt(format!(
                "images are {rows}×{cols} pixels, expected {IMAGE_SIDE}×{IMAGE_SIDE} \
                 (this is not Fashion-MNIST)"
            )));
        }
    }

    let declared = u64::from(count) * kind.item_len();
    let cap = declared.min(MAX_PAYLOAD);
    let mut payload = Vec::with_capacity(cap.min(size_hint) as usize);
    // One byte past the declared size tells trailing data from an exact fit.
    (&mut r)
        .take(cap + 1)
        .read_to_end(&mut payload)
        .map_err(read_failed)?;
    let got = payload.len() as u64;
    let items = kind.items();
    if got < declared {
        let reason = if got > cap {
            format!(
                "header says {count} {items} ({declared} bytes), more than any \
                 Fashion-MNIST file holds (this is not Fashion-MNIST)"
            )
        } else {
            format!(
                "truncated: header says {count} {items} ({declared} bytes) but only {got} \
                 bytes follow"
            )
        };
        return Err(Bad::corrupt(reason));
    }
    if got > declared {
        let rest = io::copy(&mut r.take(MAX_PAYLOAD), &mut io::sink()).map_err(read_failed)?;
        return Err(Bad::corrupt(format!(
            "{} bytes of trailing data after the {count} {items} its header declares",
            got - declared + rest
        )));
    }
    if kind == Kind::Labels {
        if let Some((i, label)) = payload
            .iter()
            .enumerate()
            .find(|&(_, &l)| usize::from(l) >= NUM_CLASSES)
        {
            return Err(Bad::corrupt(format!(
                "label {label} at index {i} is outside 0–{}",
                NUM_CLASSES - 1
            )));
        }
    }
    Ok(payload)
}

fn wrong_magic(expected: Kind, magic: u32, head: &[u8]) -> Bad {
    let other = expected.other();
    if magic == other.magic() {
        return Bad {
            reason: format!(
                "magic number {magic} is {}, expected {} ({}) — are the files swapped?",
                other.a_file(),
                expected.a_file(),
                expected.magic()
            ),
            refetch: false,
        };
    }
    if head.starts_with(&GZIP_MAGIC) {
        return Bad::corrupt("the data is still gzip-compressed after decompressing");
    }
    Bad::corrupt(format!(
        "magic number {magic} (0x{magic:08x}) is not that of {} ({}); this is not an IDX \
         file (corrupt download?)",
        expected.a_file(),
        expected.magic()
    ))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// Like `read_exact`, but a short read at end of input returns how much was read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Encodes `n` images (n × 784 bytes) as an uncompressed IDX image file.
///
/// Also used by tests and benchmarks to generate datasets. Panics if `images.len()` is not
/// `n * 784` or `n` does not fit the format's 32-bit count.
pub fn encode_images(images: &[u8], n: usize) -> Vec<u8> {
    assert_eq!(
        images.len(),
        n * IMAGE_PIXELS,
        "encode_images: need n × 784 bytes"
    );
    let count = u32::try_from(n).expect("encode_images: more than 2^32 images");
    let mut out = Vec::with_capacity(16 + images.len());
    for word in [IMAGE_MAGIC, count, IMAGE_SIDE as u32, IMAGE_SIDE as u32] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(images);
    out
}

/// Encodes labels as an uncompressed IDX label file. Values are written as given, so tests
/// can produce invalid files too. Also used by tests and benchmarks.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let count = u32::try_from(labels.len()).expect("encode_labels: more than 2^32 labels");
    let mut out = Vec::with_capacity(8 + labels.len());
    for word in [LABEL_MAGIC, count] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(labels);
    out
}

/// Gzip-compresses `bytes` (fast setting), as the dataset files are stored.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// Writes both splits into `dir` (created if needed) as the four gzip files [`load_dir`]
/// reads. For tests, benchmarks and small generated datasets.
pub fn write_dataset(dir: &Path, train: &Split, test: &Split) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for (split, images_name, labels_name) in [
        (train, TRAIN_IMAGES, TRAIN_LABELS),
        (test, TEST_IMAGES, TEST_LABELS),
    ] {
        let n = split.images.len() / IMAGE_PIXELS;
        let whole = &split.images[..n * IMAGE_PIXELS];
        fs::write(dir.join(images_name), gzip(&encode_images(whole, n)))?;
        fs::write(dir.join(labels_name), gzip(&encode_labels(&split.labels)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A split of `n` images with varied pixels and labels cycling through 0–9.
    fn sample(n: usize, seed: u8) -> Split {
        Split {
            images: (0..n * IMAGE_PIXELS)
                .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
                .collect(),
            labels: (0..n).map(|i| (i % NUM_CLASSES) as u8).collect(),
        }
    }

    fn images_err(bytes: &[u8]) -> String {
        match parse_images("x-images", bytes) {
            Err(DataError::Invalid { file, reason }) => {
                assert_eq!(file, "x-images");
                reason
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn labels_err(bytes: &[u8]) -> String {
        match parse_labels("x-labels", bytes) {
            Err(DataError::Invalid { reason, .. }) => reason,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn image_header(magic: u32, count: u32, rows: u32, cols: u32) -> Vec<u8> {
        [magic, count, rows, cols]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect()
    }

    #[test]
    fn good_bytes_round_trip() {
        let s = sample(5, 7);
        assert_eq!(
            parse_images("i", &encode_images(&s.images, 5)).unwrap(),
            s.images
        );
        assert_eq!(
            parse_labels("l", &encode_labels(&s.labels)).unwrap(),
            s.labels
        );
        assert_eq!(
            parse_images("i", &encode_images(&[], 0)).unwrap(),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn good_directory_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (train, test) = (sample(30, 1), sample(12, 2));
        write_dataset(dir.path(), &train, &test).unwrap();
        let ds = load_dir(dir.path(), Repair::Replace).unwrap();
        assert_eq!(ds.train, train);
        assert_eq!(ds.test, test);
        assert_eq!(ds.dir, dir.path());
        assert!(ds.load_secs >= 0.0);
        assert_eq!(ds.train.image(29), train.image(29));
    }

    #[test]
    fn uncompressed_files_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let s = sample(4, 3);
        // Without `.gz`: found through the fallback.
        fs::write(
            dir.path().join("train-images-idx3-ubyte"),
            encode_images(&s.images, 4),
        )
        .unwrap();
        assert_eq!(
            read_images(&dir.path().join(TRAIN_IMAGES)).unwrap(),
            s.images
        );
        // Named `.gz` but already decompressed.
        fs::write(dir.path().join(TEST_LABELS), encode_labels(&s.labels)).unwrap();
        assert_eq!(
            read_labels(&dir.path().join(TEST_LABELS)).unwrap(),
            s.labels
        );
        assert_eq!(
            file_in(dir.path(), TRAIN_IMAGES),
            Some(dir.path().join("train-images-idx3-ubyte"))
        );
        assert_eq!(file_in(dir.path(), TRAIN_LABELS), None);
    }

    #[test]
    fn bad_magic() {
        let mut bytes = encode_images(&sample(1, 0).images, 1);
        bytes[..4].copy_from_slice(&1234u32.to_be_bytes());
        let reason = images_err(&bytes);
        assert!(reason.contains("magic number 1234"), "{reason}");
        assert!(reason.contains("not an IDX file"), "{reason}");
    }

    #[test]
    fn swapped_files() {
        let s = sample(3, 0);
        let reason = images_err(&encode_labels(&s.labels));
        assert_eq!(
            reason,
            "magic number 2049 is a label file, expected an image file (2051) — are the \
             files swapped?"
        );
        let reason = labels_err(&encode_images(&s.images, 3));
        assert!(
            reason.contains("2051 is an image file, expected a label file"),
            "{reason}"
        );
    }

    #[test]
    fn wrong_dimensions() {
        let mut bytes = image_header(IMAGE_MAGIC, 1, 32, 32);
        bytes.extend(vec![0u8; 32 * 32]);
        assert!(images_err(&bytes).contains("images are 32×32 pixels, expected 28×28"));
    }

    #[test]
    fn truncated_payload_and_header() {
        let mut bytes = encode_images(&sample(5, 0).images, 5);
        bytes.truncate(bytes.len() - 100);
        assert_eq!(
            images_err(&bytes),
            "truncated: header says 5 images (3920 bytes) but only 3820 bytes follow"
        );
        assert!(images_err(&bytes[..10]).contains("ends inside its 16-byte header"));
        assert!(images_err(&bytes[..3]).contains("too short"));
        let labels = encode_labels(&[1, 2, 3]);
        assert!(labels_err(&labels[..6]).contains("ends inside its 8-byte header"));
    }

    #[test]
    fn trailing_bytes() {
        let mut bytes = encode_labels(&[1, 2, 3]);
        bytes.extend([0, 0, 0]);
        assert_eq!(
            labels_err(&bytes),
            "3 bytes of trailing data after the 3 labels its header declares"
        );
    }

    #[test]
    fn trailing_bytes_counted_through_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TRAIN_IMAGES);
        let mut raw = encode_images(&sample(2, 0).images, 2);
        raw.extend(vec![9u8; 5000]);
        fs::write(&path, gzip(&raw)).unwrap();
        let msg = read_images(&path).unwrap_err().to_string();
        assert!(msg.contains("5000 bytes of trailing data"), "{msg}");
    }

    #[test]
    fn label_out_of_range() {
        let mut labels = vec![0u8; 400];
        labels[345] = 12;
        labels[399] = 10;
        assert_eq!(
            labels_err(&encode_labels(&labels)),
            "label 12 at index 345 is outside 0–9"
        );
        assert!(labels_err(&encode_labels(&[10])).contains("label 10 at index 0"));
    }

    #[test]
    fn label_error_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TEST_LABELS);
        fs::write(&path, gzip(&encode_labels(&[1, 12]))).unwrap();
        let msg = read_labels(&path).unwrap_err().to_string();
        assert!(msg.starts_with(&path.display().to_string()), "{msg}");
        assert!(msg.contains("t10k-labels-idx1-ubyte.gz: label 12 at index 1 is outside 0–9"));
        assert!(msg.contains("delete it and run again"), "{msg}");
    }

    #[test]
    fn count_mismatch_between_images_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let mut train = sample(20, 0);
        train.labels.pop();
        write_dataset(dir.path(), &train, &sample(5, 1)).unwrap();
        let msg = load_dir(dir.path(), Repair::Replace)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("train-images-idx3-ubyte.gz holds 20 images but train-labels-idx1-ubyte.gz holds 19 labels"),
            "{msg}"
        );
    }

    #[test]
    fn a_bad_file_where_nothing_is_downloaded_is_not_advised_away() {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), &sample(20, 0), &sample(5, 1)).unwrap();
        fs::write(dir.path().join(TEST_LABELS), b"not gzip").unwrap();
        let msg = load_dir(dir.path(), Repair::Replace)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("not a gzip file"), "{msg}");
        assert!(!msg.contains("delete it"), "{msg}");
        assert!(
            msg.ends_with(
                "replace it with an intact copy of the original, or drop --data-dir to use \
                 the default location (where missing files are downloaded)"
            ),
            "{msg}"
        );
    }

    #[test]
    fn an_empty_split_says_it_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), &Split::default(), &sample(5, 1)).unwrap();
        let msg = load_dir(dir.path(), Repair::Replace)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("the training set is empty: train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz hold no images"),
            "{msg}"
        );
        write_dataset(dir.path(), &sample(5, 1), &Split::default()).unwrap();
        let msg = load_test(dir.path(), Repair::Replace)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("the test set is empty"), "{msg}");
    }

    #[test]
    fn an_io_error_gives_its_reason_once() {
        let e = anyhow::Error::from(DataError::Io {
            path: "/d/f".into(),
            error: io::Error::from(io::ErrorKind::PermissionDenied),
        });
        assert_eq!(format!("{e:#}"), "cannot access /d/f: permission denied");
    }

    #[test]
    fn not_gzip_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TRAIN_IMAGES);
        fs::write(&path, b"<html>404 not found</html>").unwrap();
        let msg = read_images(&path).unwrap_err().to_string();
        assert!(msg.contains("not a gzip file (corrupt download?)"), "{msg}");
        fs::write(&path, b"").unwrap();
        let msg = read_images(&path).unwrap_err().to_string();
        assert!(msg.contains("the file is empty"), "{msg}");
        assert!(images_err(&[]).contains("the file is empty"));
        // A gzip stream that stops half-way.
        let gz = gzip(&encode_images(&sample(3, 0).images, 3));
        fs::write(&path, &gz[..gz.len() / 2]).unwrap();
        let msg = read_images(&path).unwrap_err().to_string();
        assert!(
            msg.contains("cannot decompress") || msg.contains("truncated"),
            "{msg}"
        );
        // Compressed twice.
        assert!(images_err(&gz).contains("still gzip-compressed"));
    }

    #[test]
    fn missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TRAIN_IMAGES);
        assert!(matches!(read_images(&path), Err(DataError::Missing { path: p }) if p == path));
        assert!(matches!(
            load_dir(dir.path(), Repair::Replace),
            Err(DataError::Missing { .. })
        ));
    }

    #[test]
    fn hostile_header_is_rejected_without_allocating_from_it() {
        let mut bytes = image_header(IMAGE_MAGIC, 4_000_000_000, 28, 28);
        bytes.extend(vec![0u8; 1000]);
        assert_eq!(
            images_err(&bytes),
            "truncated: header says 4000000000 images (3136000000000 bytes) but only 1000 \
             bytes follow"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TRAIN_IMAGES);
        fs::write(&path, gzip(&bytes)).unwrap();
        let msg = read_images(&path).unwrap_err().to_string();
        assert!(msg.contains("header says 4000000000 images"), "{msg}");
    }

    #[test]
    fn gzip_bomb_stops_at_the_cap() {
        // Declares u32::MAX labels and really decompresses past MAX_PAYLOAD.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&LABEL_MAGIC.to_be_bytes()).unwrap();
        encoder.write_all(&u32::MAX.to_be_bytes()).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..=(MAX_PAYLOAD >> 20) {
            encoder.write_all(&zeros).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TRAIN_LABELS);
        fs::write(&path, encoder.finish().unwrap()).unwrap();
        let msg = read_labels(&path).unwrap_err().to_string();
        assert!(
            msg.contains("more than any Fashion-MNIST file holds"),
            "{msg}"
        );
    }

    #[test]
    fn split_helpers() {
        let mut s = sample(10, 5);
        assert_eq!(s.len(), 10);
        assert!(!s.is_empty());
        assert_eq!(s.image(3), &s.images[3 * 784..4 * 784]);
        s.truncate(4);
        assert_eq!((s.len(), s.images.len()), (4, 4 * 784));
        s.truncate(100);
        assert_eq!(s.len(), 4);
        s.truncate(0);
        assert!(s.is_empty() && s.images.is_empty());
        assert_eq!(format!("{s:?}"), "Split { len: 0 }");
    }
}

/// Loads the real dataset from the Debian package's directory and checks it against the
/// SHA-256 table. In the normal suite: where the data is expected (CI, which sets `CI`, or
/// a machine where the directory exists) it must be there and right; elsewhere it skips
/// with the reason. `cargo test --release real_dataset -- --nocapture` prints the load time.
#[cfg(test)]
mod real {
    use super::*;
    use crate::data::fetch::{verify_dir, FASHION_MNIST};
    use crate::data::locate::SYSTEM_DIR;

    /// Whether `CI` says this is a CI run (set and not `false`/`0`).
    fn in_ci() -> bool {
        std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
    }

    #[test]
    fn real_dataset_loads_and_verifies() {
        let dir = Path::new(SYSTEM_DIR);
        if !in_ci() && !dir.exists() {
            eprintln!(
                "skipped: {SYSTEM_DIR} is not installed (make setup installs it as root); \
                 under CI=true this test fails instead"
            );
            return;
        }
        let ds = load_dir(dir, Repair::Refetch)
            .unwrap_or_else(|e| panic!("the real dataset in {SYSTEM_DIR}: {e}"));
        eprintln!(
            "loaded {} train / {} test images in {:.3} s",
            ds.train.len(),
            ds.test.len(),
            ds.load_secs
        );
        assert_eq!((ds.train.len(), ds.test.len()), (60_000, 10_000));
        assert_eq!(ds.train.images.len(), 60_000 * IMAGE_PIXELS);
        let counts = ds
            .train
            .labels
            .iter()
            .fold([0usize; NUM_CLASSES], |mut c, &l| {
                c[usize::from(l)] += 1;
                c
            });
        assert_eq!(counts, [6000; NUM_CLASSES]);
        let start = Instant::now();
        verify_dir(&FASHION_MNIST, dir)
            .unwrap_or_else(|e| panic!("the real dataset in {SYSTEM_DIR}: {e}"));
        eprintln!(
            "verified checksums in {:.3} s",
            start.elapsed().as_secs_f64()
        );
    }
}
