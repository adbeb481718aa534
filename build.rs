//! Embeds where libtorch lives: an rpath so the binary runs without `LD_LIBRARY_PATH`,
//! and `FASHION_TUI_LIBTORCH_LIB` so start-up can `dlopen` `libtorch_cuda.so` from
//! the same directory (Rust links with `--as-needed`, which drops it otherwise).
//! Also what a run records about the program: `FASHION_TUI_LIBTORCH_VERSION` (from the
//! install's `version.py`, else the version tch pins) and `FASHION_TUI_GIT_COMMIT`
//! (`git rev-parse HEAD`, else "unknown"). And it exports the binary's answer to MKL's
//! vendor check (`src/mkl.rs`) so that libtorch finds it.

use std::path::Path;
use std::process::Command;

/// The libtorch version tch 0.26 is built against.
const PINNED_LIBTORCH: &str = "2.13.0";

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").ok();
    if let Some(dir) = &lib {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:rustc-env=FASHION_TUI_LIBTORCH_LIB={dir}");
    } else {
        println!("cargo:rustc-env=FASHION_TUI_LIBTORCH_LIB=");
    }
    let version = lib
        .as_deref()
        .and_then(|dir| libtorch_version(Path::new(dir)))
        .unwrap_or_else(|| PINNED_LIBTORCH.to_string());
    println!("cargo:rustc-env=FASHION_TUI_LIBTORCH_VERSION={version}");
    println!("cargo:rustc-env=FASHION_TUI_GIT_COMMIT={}", git_commit());
    // `src/mkl.rs`: the binary's answer to MKL's vendor check must be in its dynamic
    // symbol table (`-u` pulls it in, the export lets libtorch's call find it).
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64") {
        println!("cargo:rustc-link-arg=-Wl,-u,mkl_serv_intel_cpu_true");
        println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol=mkl_serv_intel_cpu_true");
    }
}

/// `__version__` of the torch package whose `lib/` libtorch is (pip wheels carry it).
fn libtorch_version(lib: &Path) -> Option<String> {
    let text = std::fs::read_to_string(lib.parent()?.join("version.py")).ok()?;
    let line = text.lines().find(|l| l.starts_with("__version__"))?;
    let v = line.split_once('=')?.1.trim().trim_matches(['\'', '"']);
    (!v.is_empty()).then(|| v.to_string())
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The commit being built, rebuilt when HEAD moves; "unknown" outside a git checkout.
fn git_commit() -> String {
    for what in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", what]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&["rev-parse", "--git-path", &head_ref]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
}
