//! Finds rustface's SeetaFace model inside the rustface crate (via `cargo metadata`) so it is
//! embedded with `include_bytes!` — no download, no copy of the file in this repository — and
//! gives tests and binaries an rpath to libtorch (as crates/rpath.rs does).
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("Cargo.toml");
    let out = Command::new(cargo)
        // Only this platform's packages: they are already downloaded, so no network is needed.
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
        ])
        .arg(std::env::var("TARGET").expect("set by cargo"))
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata --offline failed (it needs every dependency of the workspace \
         downloaded, which building one package alone does not do: run `cargo fetch` once): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let pkg = meta["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "rustface"))
        .expect("rustface is a dependency");
    let dir = PathBuf::from(pkg["manifest_path"].as_str().expect("manifest path"))
        .parent()
        .expect("crate dir")
        .to_path_buf();
    let model = dir.join("model/seeta_fd_frontal_v1.0.bin");
    assert!(
        model.is_file(),
        "rustface's model is not at {}",
        model.display()
    );
    println!("cargo:rustc-env=AREYA_SEETA_MODEL={}", model.display());
    println!("cargo:rustc-env=AREYA_RUSTFACE_DIR={}", dir.display());
}
