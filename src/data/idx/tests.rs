//! Tests of the IDX reader and writer (and, where it is installed, of the real dataset).

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

/// Reads an image file and returns its pixels (n × 784 bytes), as the dataset's are read.
fn read_images(path: &Path) -> Result<Vec<u8>, DataError> {
    read_file(path, Kind::Images, Some(Repair::Refetch))
}

/// Reads a label file and returns its labels, each checked to be in `0..10`.
fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    read_file(path, Kind::Labels, Some(Repair::Refetch))
}

/// Parses an uncompressed image file held in memory; `file` names it in errors.
fn parse_images(file: &str, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    decode(Kind::Images, bytes, bytes.len() as u64).map_err(|bad| bad.into_error(file, None))
}

/// Parses an uncompressed label file held in memory; `file` names it in errors.
fn parse_labels(file: &str, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    decode(Kind::Labels, bytes, bytes.len() as u64).map_err(|bad| bad.into_error(file, None))
}

/// Loads the real dataset from the Debian package's directory and checks it against the
/// SHA-256 table. In the normal suite: where the data is expected (CI, which sets `CI`, or
/// a machine where the directory exists) it must be there and right; elsewhere it skips
/// with the reason. `cargo test --release real_dataset -- --nocapture` prints the load time.
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
