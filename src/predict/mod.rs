//! Users' own pictures as the network's input: reading them safely ([`load`]: the size is
//! checked from the header before anything is decoded) and turning any photo into a
//! Fashion-MNIST-like 28×28 image ([`preprocess`]), plus a half-block preview of that
//! input for the terminal ([`preview`]).

pub mod preprocess;
pub mod preview;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use image::{DynamicImage, ImageReader, Limits};
use thiserror::Error;

pub use preprocess::{preprocess, Invert, Prepared};

/// The largest picture `predict` decodes, in pixels (a 48-megapixel photo fits). Checked
/// from the file's header, before decoding, so a huge or hostile file costs nothing.
pub const MAX_PIXELS: u64 = 50_000_000;
/// The most memory the decoder may allocate for one picture.
const MAX_ALLOC: u64 = 512 * 1024 * 1024;

/// Why a picture could not be used. `usage` errors are the caller's input (exit 2),
/// the rest are failures reading a file that should have worked (exit 1).
#[derive(Debug, Error)]
pub enum ImageError {
    #[error("{path}: no such file")]
    Missing { path: String },
    #[error("{path}: is a directory, not an image")]
    Directory { path: String },
    #[error("{path}: is {kind}, not an image file")]
    NotFile { path: String, kind: &'static str },
    #[error("{path}: not an image in a format fashion-tui reads (PNG, JPEG, IDX)")]
    Unknown { path: String },
    #[error("{path}: the image is empty ({width}×{height})")]
    Empty {
        path: String,
        width: u32,
        height: u32,
    },
    #[error(
        "{path}: {width}×{height} is {} megapixels, above the limit of {} megapixels; \
         scale it down first",
        (*width as u64 * *height as u64) / 1_000_000,
        MAX_PIXELS / 1_000_000
    )]
    TooLarge {
        path: String,
        width: u32,
        height: u32,
    },
    #[error("{path}: cannot decode the image: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl ImageError {
    /// Whether the user gave something that is not a usable picture (exit 2) rather
    /// than a file that failed to read (exit 1).
    pub fn is_usage(&self) -> bool {
        !matches!(self, ImageError::Io { .. } | ImageError::Missing { .. })
    }
}

/// What a file given to `predict` holds, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// An IDX image file (Fashion-MNIST's own format), gzipped or not.
    Idx,
    /// Anything else: tried as a picture.
    Picture,
}

/// Look at the first bytes of `path`: IDX magic (or gzip) means IDX.
pub fn file_kind(path: &Path) -> Result<FileKind, ImageError> {
    let name = crate::escape::path(path);
    let meta = std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ImageError::Missing { path: name.clone() },
        _ => ImageError::Io {
            path: name.clone(),
            source,
        },
    })?;
    if meta.is_dir() {
        return Err(ImageError::Directory { path: name });
    }
    // A FIFO or a device would block or never end: refused before it is opened.
    if !meta.is_file() {
        let kind = crate::config::file_kind(&meta);
        return Err(ImageError::NotFile { path: name, kind });
    }
    let mut head = [0u8; 4];
    let n = File::open(path)
        .and_then(|f| f.take(4).read(&mut head))
        .map_err(|source| ImageError::Io {
            path: name.clone(),
            source,
        })?;
    let head = &head[..n];
    Ok(if head == [0, 0, 8, 3] || head.starts_with(&[0x1f, 0x8b]) {
        FileKind::Idx
    } else {
        FileKind::Picture
    })
}

/// Decode the picture at `path`, refusing before decoding anything empty or larger than
/// [`MAX_PIXELS`].
pub fn load(path: &Path) -> Result<DynamicImage, ImageError> {
    let name = crate::escape::path(path);
    let open = || -> Result<ImageReader<BufReader<File>>, ImageError> {
        // By content only: a text file named .png is not an image, and a picture with a
        // wrong extension still is.
        let file = File::open(path).map_err(|source| ImageError::Io {
            path: name.clone(),
            source,
        })?;
        let reader = ImageReader::new(BufReader::new(file))
            .with_guessed_format()
            .map_err(|source| ImageError::Io {
                path: name.clone(),
                source,
            })?;
        if reader.format().is_none() {
            return Err(ImageError::Unknown { path: name.clone() });
        }
        Ok(reader)
    };
    let corrupt = |e: image::ImageError| match e {
        image::ImageError::Unsupported(_) => ImageError::Unknown { path: name.clone() },
        e => ImageError::Corrupt {
            path: name.clone(),
            reason: e.to_string(),
        },
    };
    let (width, height) = open()?.into_dimensions().map_err(corrupt)?;
    if width == 0 || height == 0 {
        return Err(ImageError::Empty {
            path: name,
            width,
            height,
        });
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooLarge {
            path: name,
            width,
            height,
        });
    }
    let mut reader = open()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader.decode().map_err(corrupt)
}
