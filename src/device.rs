//! Choosing where to train: `auto`, `cpu`, `cuda` or `cuda:N`.
//!
//! Rust links with `--as-needed`, so `libtorch_cuda.so` is dropped from the binary even
//! when the build saw it, and libtorch then reports no CUDA. Instead of forcing the link
//! (which would make the binary fail to start on CPU-only machines, where the lean install
//! lacks cuBLAS, cuDNN and friends), we `dlopen` it at start-up when a CUDA device is
//! wanted: its static initialisers register the CUDA backend with libtorch. One build
//! thus serves the lean CPU install and the full CUDA install.

use crate::error::UsageError;
use std::ffi::{CStr, CString};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::OnceLock;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA device 0 when usable, else the CPU (saying why).
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<usize>().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| {
                    format!("unknown device '{other}': expected auto, cpu, cuda or cuda:N")
                }),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// The device resolved against this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub device: tch::Device,
    /// Shown in the header and the headless banner, e.g. `cpu · 2 threads`.
    pub description: String,
    /// Why `auto` fell back to the CPU, if it did.
    pub fallback_reason: Option<String>,
}

/// The libtorch lib directory the build linked against (empty if unknown).
fn libtorch_lib_dir() -> PathBuf {
    PathBuf::from(env!("FASHION_TUI_LIBTORCH_LIB"))
}

/// Load `libtorch_cuda.so` once; `Err` carries the loader's reason.
fn load_cuda_backend() -> &'static Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED.get_or_init(|| {
        let dir = libtorch_lib_dir();
        let path = dir.join("libtorch_cuda.so");
        if !path.exists() {
            return Err(format!(
                "this libtorch has no CUDA backend ({} is missing)",
                path.display()
            ));
        }
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| "libtorch path contains a NUL byte".to_string())?;
        // SAFETY: dlopen with a valid C string; the handle is deliberately leaked so the
        // library (and the CUDA backend it registered) stays loaded for the process.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if handle.is_null() {
            // SAFETY: dlerror returns a thread-local C string or null.
            let err = unsafe { libc::dlerror() };
            let msg = if err.is_null() {
                "unknown dlopen error".to_string()
            } else {
                // SAFETY: non-null pointer from dlerror is a valid C string.
                unsafe { CStr::from_ptr(err) }
                    .to_string_lossy()
                    .into_owned()
            };
            return Err(format!(
                "libtorch's CUDA backend could not be loaded ({msg}); \
                 the CPU-only install lacks the CUDA libraries: run \
                 `FASHION_TUI_VARIANT=cuda make setup` on a machine with an NVIDIA GPU"
            ));
        }
        Ok(())
    })
}

/// Why CUDA device `n` cannot be used, or `None` when it can.
fn cuda_unusable(n: usize) -> Option<String> {
    // Without the NVIDIA driver's control device there is nothing to load the backend for.
    if !std::path::Path::new("/dev/nvidiactl").exists() {
        return Some("this machine has no NVIDIA GPU driver (no /dev/nvidiactl)".into());
    }
    if let Err(reason) = load_cuda_backend() {
        return Some(reason.clone());
    }
    if !tch::Cuda::is_available() {
        return Some("libtorch's CUDA backend is loaded but finds no usable GPU (no NVIDIA driver or device)".into());
    }
    let count = tch::Cuda::device_count().max(0) as usize;
    if n >= count {
        return Some(format!(
            "cuda:{n} does not exist: this machine has {count} CUDA device(s) (cuda:0..cuda:{})",
            count.saturating_sub(1)
        ));
    }
    None
}

/// The CPU with `threads` threads, as the header says it: `cpu · 2 threads`.
pub fn cpu_description(threads: usize) -> String {
    format!(
        "cpu · {threads} thread{}",
        if threads == 1 { "" } else { "s" }
    )
}

/// Resolve the choice against this machine. `threads` is the CPU thread count in use.
/// `cuda`/`cuda:N` without a usable GPU is an error naming the reason; `auto` falls back.
pub fn resolve(choice: DeviceChoice, threads: usize) -> Result<Resolved, UsageError> {
    let cpu = |fallback_reason| Resolved {
        device: tch::Device::Cpu,
        description: cpu_description(threads),
        fallback_reason,
    };
    match choice {
        DeviceChoice::Cpu => Ok(cpu(None)),
        DeviceChoice::Auto => match cuda_unusable(0) {
            None => Ok(cuda(0)),
            Some(reason) => Ok(cpu(Some(reason))),
        },
        DeviceChoice::Cuda(n) => match cuda_unusable(n) {
            None => Ok(cuda(n)),
            Some(reason) => Err(UsageError(format!(
                "--device cuda:{n} is not usable: {reason}"
            ))),
        },
    }
}

fn cuda(n: usize) -> Resolved {
    Resolved {
        device: tch::Device::Cuda(n),
        description: format!("cuda:{n} · {}", gpu_name(n).unwrap_or_else(|| "GPU".into())),
        fallback_reason: None,
    }
}

/// The GPU's marketing name, read from the NVIDIA driver's procfs when present.
fn gpu_name(n: usize) -> Option<String> {
    let dir = std::fs::read_dir("/proc/driver/nvidia/gpus").ok()?;
    let mut gpus: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
    gpus.sort();
    let info = std::fs::read_to_string(gpus.get(n)?.join("information")).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Model:"))
        .map(|m| m.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_choices() {
        assert_eq!("auto".parse(), Ok(DeviceChoice::Auto));
        assert_eq!("cpu".parse(), Ok(DeviceChoice::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceChoice::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceChoice::Cuda(3)));
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", ""] {
            let err = bad.parse::<DeviceChoice>().unwrap_err();
            assert!(err.contains("expected auto, cpu, cuda or cuda:N"), "{err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for c in [DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Cuda(2)] {
            assert_eq!(c.to_string().parse(), Ok(c));
        }
    }

    #[test]
    fn cpu_is_always_usable() {
        let r = resolve(DeviceChoice::Cpu, 2).unwrap();
        assert_eq!(r.device, tch::Device::Cpu);
        assert_eq!(r.description, "cpu · 2 threads");
    }

    #[test]
    fn auto_falls_back_with_a_reason_without_a_gpu() {
        let r = resolve(DeviceChoice::Auto, 1).unwrap();
        if r.device == tch::Device::Cpu {
            assert!(r.fallback_reason.is_some());
            assert!(resolve(DeviceChoice::Cuda(0), 1).is_err());
        }
    }

    #[test]
    fn missing_cuda_ordinal_is_an_error() {
        let err = resolve(DeviceChoice::Cuda(97), 1).unwrap_err().0;
        assert!(err.starts_with("--device cuda:97 is not usable"), "{err}");
    }
}
