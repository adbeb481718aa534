//! The Fashion-MNIST dataset: reading the IDX files ([`idx`]), finding them on disk
//! ([`locate`]) and downloading them when they are nowhere to be found ([`fetch`](mod@fetch)).
//!
//! Everything here is plain data (`Vec<u8>`), so a [`Dataset`] can cross threads freely.

pub mod fetch;
pub mod idx;
pub mod locate;

use std::io;
use std::path::PathBuf;

pub use fetch::{fetch, verify_dir, FetchProgress, RemoteFile, FASHION_MNIST, MIRRORS};
pub use idx::{load_dir, load_test, write_dataset, Dataset, Repair, Split};
pub use locate::{candidates, find, resolve, Candidate};

/// Side length of an image in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Bytes per image: 28×28 greyscale, one byte per pixel.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Number of classes; labels are `0..NUM_CLASSES`.
pub const NUM_CLASSES: usize = 10;
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";
/// The four files a dataset directory must hold.
pub const FILE_NAMES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];
/// The two files of the test split: all that evaluating a model needs.
pub const TEST_FILE_NAMES: [&str; 2] = [TEST_IMAGES, TEST_LABELS];

/// Everything that can go wrong while finding, downloading or reading the dataset.
///
/// Each message is a complete sentence that says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(
        "{} does not exist; point --data-dir (or $FASHION_MNIST_DIR) at a directory \
         holding the four Fashion-MNIST files, or leave it unset to download them",
        path.display()
    )]
    Missing { path: PathBuf },

    /// The reason is part of the message, not a separate source, so that a chain of
    /// causes printed with `{:#}` says it once.
    #[error("cannot access {}: {error}", path.display())]
    Io { path: PathBuf, error: io::Error },

    /// The file exists but is not valid Fashion-MNIST data; `file` is its path (or its
    /// name when parsing bytes) and `reason` says what is wrong and, where one exists, the fix.
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },

    #[error(
        "{file}: SHA-256 of its content is {actual}, expected {expected}: the file is \
         corrupt or not the original; delete it and run again to download a fresh copy"
    )]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },

    #[error("could not download {file}: {reason}; check the network connection and try again, or download the file by hand into the data directory")]
    Download { file: String, reason: String },

    /// A directory the user named explicitly lacks some of the files (nothing is ever
    /// downloaded into it). Each of `missing` names a file, and what is there instead
    /// if something is.
    #[error(
        "{} (from {origin}) does not contain {}; put the Fashion-MNIST files there, or \
         drop {origin} to use the default location (where missing files are downloaded)",
        dir.display(),
        missing.join(", ")
    )]
    Incomplete {
        dir: PathBuf,
        origin: &'static str,
        missing: Vec<String>,
    },

    #[error(
        "no per-user cache directory is known (is $HOME set?), so there is nowhere to \
         download Fashion-MNIST to; pass --data-dir or set $FASHION_MNIST_DIR"
    )]
    NoCacheDir,
}
