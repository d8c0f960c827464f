//! What the vision benchmarks share.

use std::path::{Path, PathBuf};

/// The files of `dir`, sorted (none if it cannot be read).
pub fn images(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}
