//! Shared build script: gives every binary and test of the crate an rpath to the libtorch that
//! torch-sys linked against (the venv's `torch/lib`), so nobody has to set `LD_LIBRARY_PATH`.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
