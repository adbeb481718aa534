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

/// Reads an image file a user brought (to classify): checked as the dataset's files are,
/// but a bad one's message gives no advice about downloading a fresh copy.
pub fn read_own_images(path: &Path) -> Result<Vec<u8>, DataError> {
    read_file(path, Kind::Images, None)
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
mod tests;
