//! Embeds where libtorch lives: an rpath so the binary runs without `LD_LIBRARY_PATH`,
//! and `FASHION_TUI_LIBTORCH_LIB` so start-up can `dlopen` `libtorch_cuda.so` from
//! the same directory (Rust links with `--as-needed`, which drops it otherwise).

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:rustc-env=FASHION_TUI_LIBTORCH_LIB={dir}");
    } else {
        println!("cargo:rustc-env=FASHION_TUI_LIBTORCH_LIB=");
    }
}
