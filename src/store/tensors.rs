//! Named tensors as `.safetensors` bytes, written and read by the program itself so that
//! a model or checkpoint file goes through [`crate::files`] like every other: written into
//! a directory's handle (never through a planted link), read only after its header is
//! checked (a hostile or damaged file is refused before its data is read, naming the
//! tensor at fault) and within a bound.
//!
//! The format is safetensors': an 8-byte little-endian header length, a JSON header
//! `{name: {dtype, shape, data_offsets}}`, then the tensors' bytes back to back. Pickle is
//! never read.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use safetensors::tensor::{Dtype, View};
use tch::{Kind, Tensor};

use crate::files::{self, Dir, MB};

/// The largest header a file of ours has (names and shapes of a few hundred tensors).
const MAX_HEADER: u64 = 16 * MB;
/// The largest model or checkpoint file read (ours are a few megabytes).
pub const MAX_FILE: u64 = 1024 * MB;

/// A tensor as the safetensors writer takes it.
struct Item<'a> {
    tensor: &'a Tensor,
    shape: Vec<usize>,
    dtype: Dtype,
}

fn dtype_of(kind: Kind) -> Result<Dtype> {
    Ok(match kind {
        Kind::Bool => Dtype::BOOL,
        Kind::Uint8 => Dtype::U8,
        Kind::Int8 => Dtype::I8,
        Kind::Int16 => Dtype::I16,
        Kind::Int => Dtype::I32,
        Kind::Int64 => Dtype::I64,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Half => Dtype::F16,
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        other => bail!("a tensor of kind {other:?} cannot be saved"),
    })
}

/// A dtype's name in a header, as its kind and element size.
fn kind_of(name: &str) -> Option<(Kind, usize)> {
    Some(match name {
        "BOOL" => (Kind::Bool, 1),
        "U8" => (Kind::Uint8, 1),
        "I8" => (Kind::Int8, 1),
        "I16" => (Kind::Int16, 2),
        "I32" => (Kind::Int, 4),
        "I64" => (Kind::Int64, 8),
        "BF16" => (Kind::BFloat16, 2),
        "F16" => (Kind::Half, 2),
        "F32" => (Kind::Float, 4),
        "F64" => (Kind::Double, 8),
        _ => return None,
    })
}

impl View for Item<'_> {
    fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        let mut data = vec![0u8; self.data_len()];
        let numel = self.tensor.numel();
        // The tensor is contiguous, on the CPU and of this dtype (see `encode`).
        if self.tensor.f_copy_data_u8(&mut data, numel).is_err() {
            data.clear();
        }
        data.into()
    }

    fn data_len(&self) -> usize {
        self.tensor.numel() * self.tensor.kind().elt_size_in_bytes()
    }
}

/// `named` tensors as the bytes of a `.safetensors` file.
pub fn encode(named: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let cpu: Vec<(String, Tensor)> = named
        .iter()
        .map(|(n, t)| (n.clone(), t.to_device(tch::Device::Cpu).contiguous()))
        .collect();
    let items = cpu
        .iter()
        .map(|(n, t)| {
            let item = Item {
                tensor: t,
                shape: t.size().iter().map(|&d| d as usize).collect(),
                dtype: dtype_of(t.kind()).with_context(|| format!("tensor {n}"))?,
            };
            Ok((n.as_str(), item))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::tensor::serialize(items, &None)
        .map_err(|e| anyhow!("cannot encode the tensors: {e:?}"))
}

/// One tensor's entry in a header: its kind, shape and bytes.
struct Entry {
    kind: Kind,
    shape: Vec<i64>,
    range: (usize, usize),
}

/// The header of a file of `size` bytes whose first bytes are `head`: each tensor's
/// entry, checked (a known dtype, offsets that follow each other to the file's end, each
/// holding exactly its shape's bytes). `Err` says what is wrong, naming the tensor.
fn parse_header(head: &[u8], size: u64) -> Result<(usize, BTreeMap<String, Entry>)> {
    let n = u64::from_le_bytes(head.get(..8).context("shorter than a header")?.try_into()?);
    if n > MAX_HEADER || 8 + n > size {
        bail!("its header claims {n} bytes, in a file of {size}");
    }
    let json = head
        .get(8..8 + n as usize)
        .context("its header is cut off")?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(json).map_err(|e| anyhow!("its header is not JSON ({e})"))?;
    let mut entries = BTreeMap::new();
    for (name, v) in header {
        if name == "__metadata__" {
            continue;
        }
        let bad = |why: &str| anyhow!("tensor {name}: {why}");
        let dtype = v["dtype"].as_str().ok_or_else(|| bad("no dtype"))?;
        let (kind, elt) = kind_of(dtype).ok_or_else(|| bad(&format!("unknown dtype {dtype}")))?;
        let shape: Vec<i64> = v["shape"]
            .as_array()
            .ok_or_else(|| bad("no shape"))?
            .iter()
            .map(|d| d.as_u64().and_then(|d| i64::try_from(d).ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("a dimension that is not a whole number"))?;
        let offsets: Vec<usize> = v["data_offsets"]
            .as_array()
            .filter(|a| a.len() == 2)
            .and_then(|a| a.iter().map(|o| o.as_u64().map(|o| o as usize)).collect())
            .ok_or_else(|| bad("no data_offsets"))?;
        let (start, end) = (offsets[0], offsets[1]);
        let want = shape
            .iter()
            .try_fold(elt as u64, |acc, &d| acc.checked_mul(d as u64))
            .ok_or_else(|| bad("a shape too large to hold"))?;
        if end < start || (end - start) as u64 != want {
            bail!(
                "tensor {name} has shape {shape:?} of {dtype} ({want} bytes) but its offsets \
                 hold {} bytes",
                end.saturating_sub(start)
            );
        }
        entries.insert(
            name,
            Entry {
                kind,
                shape,
                range: (start, end),
            },
        );
    }
    // The tensors' bytes follow each other from the header to the file's end.
    let mut ranges: Vec<(usize, usize)> = entries.values().map(|e| e.range).collect();
    ranges.sort_unstable();
    let mut at = 0;
    for (s, e) in ranges {
        if s != at {
            bail!("its tensors' data overlap or leave gaps");
        }
        at = e;
    }
    if 8 + n + at as u64 != size {
        bail!(
            "it is {size} bytes, but its header accounts for {}",
            8 + n + at as u64
        );
    }
    Ok((8 + n as usize, entries))
}

/// The tensors of a `.safetensors` file opened as `file` (`size` bytes, at `path` for
/// messages): its header read and checked first, then its data.
fn decode_file(mut file: std::fs::File, size: u64, path: &Path) -> Result<Vec<(String, Tensor)>> {
    if size > MAX_FILE {
        return Err(files::Refused::TooLarge(path.to_path_buf(), size, MAX_FILE, "a model").into());
    }
    let unreadable = |e: anyhow::Error| {
        anyhow!(
            "{} is not a readable safetensors file (damaged or of another kind): {e:#}",
            path.display()
        )
    };
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| unreadable(anyhow!("it is shorter than a header")))?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER || n.saturating_add(8) > size {
        return Err(unreadable(anyhow!(
            "its header claims {n} bytes, in a file of {size}"
        )));
    }
    let mut head = len.to_vec();
    (&mut file).take(n).read_to_end(&mut head)?;
    let (data_at, entries) = parse_header(&head, size).map_err(unreadable)?;
    let mut data = Vec::with_capacity(size as usize - data_at);
    (&mut file)
        .take(size - data_at as u64)
        .read_to_end(&mut data)?;
    if data.len() as u64 != size - data_at as u64 {
        return Err(unreadable(anyhow!("it changed while read")));
    }
    entries
        .into_iter()
        .map(|(name, e)| {
            let bytes = &data[e.range.0..e.range.1];
            let t = Tensor::f_from_data_size(bytes, &e.shape, e.kind)
                .map_err(|err| unreadable(anyhow!("tensor {name}: {err}")))?;
            Ok((name, t))
        })
        .collect()
}

/// The tensors of `name` in `dir` (not through a link); `Ok(None)` when there is none.
pub fn read(dir: &Dir, name: &str) -> Result<Option<Vec<(String, Tensor)>>> {
    match dir.open_file(name)? {
        Some((file, size)) => decode_file(file, size, &dir.join(name)).map(Some),
        None => Ok(None),
    }
}

/// The tensors of the file at `path`, which the user named: a regular file, read header
/// first.
pub fn read_path(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let kind = crate::config::file_kind(&meta);
        return Err(files::Refused::NotFile(path.to_path_buf(), kind).into());
    }
    decode_file(file, meta.len(), path)
}

/// Write `named` tensors as `name` in `dir`, atomically.
pub fn write(dir: &Dir, name: &str, named: &[(String, Tensor)]) -> Result<()> {
    let bytes = encode(named)?;
    dir.write(name, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(String, Tensor)> {
        vec![
            (
                "a.weight".into(),
                Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).view([2, 2]),
            ),
            ("a.steps".into(), Tensor::from_slice(&[7i64])),
        ]
    }

    #[test]
    fn tensors_round_trip_and_a_damaged_header_names_the_tensor() {
        let root = tempfile::tempdir().unwrap();
        let dir = Dir::open(root.path()).unwrap();
        write(&dir, "m.safetensors", &sample()).unwrap();
        let back = read(&dir, "m.safetensors").unwrap().unwrap();
        assert_eq!(back.len(), 2);
        let w = &back.iter().find(|(n, _)| n == "a.weight").unwrap().1;
        assert_eq!(w.size(), [2, 2]);
        assert_eq!(
            Vec::<f32>::try_from(w.flatten(0, -1)).unwrap(),
            [1.0, 2.0, 3.0, 4.0]
        );
        // The same file read by libtorch's own reader: the format is safetensors'.
        let theirs = Tensor::read_safetensors(root.path().join("m.safetensors")).unwrap();
        assert_eq!(theirs.len(), 2);
        // A shape edited in the header (its length kept) is refused by name.
        let mut bytes = std::fs::read(root.path().join("m.safetensors")).unwrap();
        let at = bytes
            .windows(13)
            .position(|w| w == b"\"shape\":[2,2]")
            .unwrap()
            + 8;
        bytes[at..at + 5].copy_from_slice(b"[2,3]");
        std::fs::write(root.path().join("bad.safetensors"), &bytes).unwrap();
        let e = format!("{:#}", read(&dir, "bad.safetensors").unwrap_err());
        assert!(
            e.contains("tensor a.weight has shape [2, 3] of F32 (24 bytes)"),
            "{e}"
        );
        // Trailing bytes (a huge sparse file whose header is small) are refused unread.
        let f = std::fs::OpenOptions::new()
            .append(true)
            .open(root.path().join("m.safetensors"))
            .unwrap();
        f.set_len(2 << 30).unwrap();
        let e = format!("{:#}", read(&dir, "m.safetensors").unwrap_err());
        assert!(e.contains("far more than a model"), "{e}");
        std::fs::write(
            root.path().join("junk.safetensors"),
            b"\xff\xff\xff\xff\xff\xff\xff\x7fjunk",
        )
        .unwrap();
        let e = format!("{:#}", read(&dir, "junk.safetensors").unwrap_err());
        assert!(e.contains("its header claims"), "{e}");
    }
}
