//! Reading `ROOT/<split>/<class>/*.{jpg,jpeg,png,bmp}` (Keras `flow_from_directory` layout) into
//! memory once: decoded in parallel, grayscale, resized to the model's input, kept as u8.
//!
//! Bad files (zero bytes, truncated, corrupt, not an image) are skipped and reported with a
//! count and the first paths, or fail the load when `strict` is set.

use crate::classes::ClassMap;
use crate::error::{MlError, Result};
use crate::rng::{SplitMix64, STREAM_SPLIT};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// File extensions read as images (compared case-insensitively).
pub const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "bmp"];

/// The files of one split, before decoding.
#[derive(Debug, Clone)]
pub struct SplitListing {
    pub dir: PathBuf,
    /// (path, class index), sorted by class then path.
    pub files: Vec<(PathBuf, usize)>,
    /// Image files per class index.
    pub per_class: Vec<usize>,
    /// Sub-folders that are not a selected class.
    pub ignored_folders: Vec<String>,
    /// Files in class folders whose extension is not an image's.
    pub not_images: Vec<PathBuf>,
}

/// Sub-folder names of `dir`, sorted.
pub fn list_folders(dir: &Path) -> Result<Vec<String>> {
    let meta = std::fs::metadata(dir).map_err(|e| MlError::io(dir, e))?;
    if !meta.is_dir() {
        return Err(MlError::data(dir, "is not a folder"));
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| MlError::io(dir, e))? {
        let entry = entry.map_err(|e| MlError::io(dir, e))?;
        // `is_dir` follows symbolic links, so linked class folders count.
        if entry.path().is_dir() {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}

fn is_image_path(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
        .unwrap_or(false)
}

/// Lists the image files of the selected classes in `dir` (e.g. `ROOT/train`).
pub fn list_split(dir: &Path, classes: &ClassMap) -> Result<SplitListing> {
    let folders = list_folders(dir)?;
    if folders.is_empty() {
        return Err(MlError::data(
            dir,
            "has no class folders (expected <class>/<image files>)",
        ));
    }
    for spec in classes.specs() {
        if !folders.contains(&spec.folder) {
            return Err(MlError::data(
                dir,
                format!(
                    "no folder for class '{}' (folders here: {})",
                    spec.folder,
                    folders.join(", ")
                ),
            ));
        }
    }
    let ignored_folders: Vec<String> = folders
        .iter()
        .filter(|f| classes.index_of_folder(f).is_none())
        .cloned()
        .collect();
    let mut files = Vec::new();
    let mut per_class = vec![0; classes.len()];
    let mut not_images = Vec::new();
    for (ci, spec) in classes.specs().iter().enumerate() {
        let cdir = dir.join(&spec.folder);
        let mut these = Vec::new();
        for entry in std::fs::read_dir(&cdir).map_err(|e| MlError::io(&cdir, e))? {
            let entry = entry.map_err(|e| MlError::io(&cdir, e))?;
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            if is_image_path(&path) {
                these.push(path);
            } else {
                not_images.push(path);
            }
        }
        if these.is_empty() {
            return Err(MlError::data(
                &cdir,
                "has no image files (.jpg, .jpeg, .png, .bmp)",
            ));
        }
        these.sort();
        per_class[ci] = these.len();
        files.extend(these.into_iter().map(|p| (p, ci)));
    }
    not_images.sort();
    Ok(SplitListing {
        dir: dir.to_path_buf(),
        files,
        per_class,
        ignored_folders,
        not_images,
    })
}

/// Decoded images of one split, `size`×`size` grayscale u8, row-major, one after another.
#[derive(Debug, Clone)]
pub struct ImageSet {
    pub size: u32,
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
    pub paths: Vec<PathBuf>,
    pub num_classes: usize,
}

impl ImageSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn pixels_per_image(&self) -> usize {
        (self.size * self.size) as usize
    }
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.pixels_per_image();
        &self.pixels[i * n..(i + 1) * n]
    }
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.num_classes];
        for &l in &self.labels {
            c[l as usize] += 1;
        }
        c
    }
    /// The images at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> ImageSet {
        let mut pixels = Vec::with_capacity(idx.len() * self.pixels_per_image());
        for &i in idx {
            pixels.extend_from_slice(self.image(i));
        }
        ImageSet {
            size: self.size,
            pixels,
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            paths: idx.iter().map(|&i| self.paths[i].clone()).collect(),
            num_classes: self.num_classes,
        }
    }
}

/// A file that could not be used, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// The result of [`load`]: the images, the files skipped, and a fingerprint of the bytes read.
#[derive(Debug)]
pub struct Loaded {
    pub set: ImageSet,
    pub skipped: Vec<Skipped>,
    /// FNV-1a over every used file's name and bytes, in order: changes when the data changes.
    pub fingerprint: String,
}

/// Decodes an encoded image to `size`×`size` grayscale u8. Colour is converted (ITU-R 709
/// luma, Rec. 709 weights), other sizes are resized (triangle filter).
pub fn decode_gray(bytes: &[u8], size: u32) -> std::result::Result<Vec<u8>, String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    let img = image::load_from_memory(bytes).map_err(|e| format!("not a readable image: {e}"))?;
    let gray = img.to_luma8();
    if gray.width() == 0 || gray.height() == 0 {
        return Err("image has zero width or height".into());
    }
    let gray = if gray.dimensions() == (size, size) {
        gray
    } else {
        image::imageops::resize(&gray, size, size, image::imageops::FilterType::Triangle)
    };
    Ok(gray.into_raw())
}

pub(crate) fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Decodes every listed file in parallel.
pub fn load(listing: &SplitListing, num_classes: usize, size: u32, strict: bool) -> Result<Loaded> {
    let decoded: Vec<(std::result::Result<Vec<u8>, String>, u64)> = listing
        .files
        .par_iter()
        .map(|(path, _)| match std::fs::read(path) {
            Ok(bytes) => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let h = fnv1a(fnv1a(FNV_OFFSET, name.as_bytes()), &bytes);
                (decode_gray(&bytes, size), h)
            }
            Err(e) => (Err(format!("cannot read: {e}")), 0),
        })
        .collect();
    let n_px = (size * size) as usize;
    let mut pixels = Vec::with_capacity(decoded.len() * n_px);
    let mut labels = Vec::with_capacity(decoded.len());
    let mut paths = Vec::with_capacity(decoded.len());
    let mut skipped = Vec::new();
    let mut fp = FNV_OFFSET;
    for ((path, class), (res, h)) in listing.files.iter().zip(decoded) {
        match res {
            Ok(px) => {
                pixels.extend_from_slice(&px);
                labels.push(*class as u8);
                paths.push(path.clone());
                fp = fnv1a(fp, &h.to_le_bytes());
            }
            Err(reason) if strict => return Err(MlError::data(path, reason)),
            Err(reason) => skipped.push(Skipped {
                path: path.clone(),
                reason,
            }),
        }
    }
    if labels.is_empty() {
        return Err(MlError::data(
            &listing.dir,
            "none of the image files could be read",
        ));
    }
    let set = ImageSet {
        size,
        pixels,
        labels,
        paths,
        num_classes,
    };
    for (c, &n) in set.class_counts().iter().enumerate() {
        if n == 0 {
            return Err(MlError::data(
                &listing.dir,
                format!("class {c} has no readable images"),
            ));
        }
    }
    Ok(Loaded {
        set,
        skipped,
        fingerprint: format!("{fp:016x}"),
    })
}

/// `n` indices, stratified by label (each class keeps its share, at least one image each),
/// chosen with `seed`. Returns all indices when `n` ≥ the number of images.
pub fn stratified_sample(labels: &[u8], num_classes: usize, n: usize, seed: u64) -> Vec<usize> {
    if n >= labels.len() {
        return (0..labels.len()).collect();
    }
    let by_class = shuffled_by_class(labels, num_classes, seed);
    let total = labels.len() as f64;
    // Largest-remainder quotas summing to n, each at least 1 where the class has images.
    let raw: Vec<f64> = by_class
        .iter()
        .map(|v| v.len() as f64 * n as f64 / total)
        .collect();
    let mut quota: Vec<usize> = raw
        .iter()
        .zip(&by_class)
        .map(|(r, v)| (r.floor() as usize).max(1).min(v.len()))
        .collect();
    let mut order: Vec<usize> = (0..num_classes).collect();
    order.sort_by(|&a, &b| (raw[b] - raw[b].floor()).total_cmp(&(raw[a] - raw[a].floor())));
    let mut i = 0;
    while quota.iter().sum::<usize>() < n && i < 10 * num_classes {
        let c = order[i % num_classes];
        if quota[c] < by_class[c].len() {
            quota[c] += 1;
        }
        i += 1;
    }
    let mut out: Vec<usize> = by_class
        .iter()
        .zip(&quota)
        .flat_map(|(v, &q)| v[..q].iter().copied())
        .collect();
    out.sort();
    out
}

/// Splits indices into (train, val), taking `fraction` of each class for val, seeded.
pub fn stratified_split(
    labels: &[u8],
    num_classes: usize,
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let by_class = shuffled_by_class(labels, num_classes, seed);
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for v in by_class {
        let k = ((v.len() as f64 * fraction).round() as usize)
            .clamp(usize::from(v.len() > 1), v.len().saturating_sub(1).max(1));
        val.extend_from_slice(&v[..k.min(v.len())]);
        train.extend_from_slice(&v[k.min(v.len())..]);
    }
    train.sort();
    val.sort();
    (train, val)
}

fn shuffled_by_class(labels: &[u8], num_classes: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut by_class = vec![Vec::new(); num_classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    for (c, v) in by_class.iter_mut().enumerate() {
        SplitMix64::keyed(&[seed, STREAM_SPLIT, c as u64]).shuffle(v);
    }
    by_class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_sample_keeps_shares_and_size() {
        let labels: Vec<u8> = (0..1000)
            .map(|i| {
                if i < 700 {
                    0
                } else if i < 990 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let idx = stratified_sample(&labels, 3, 100, 1);
        assert_eq!(idx.len(), 100);
        let count = |c| idx.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!((count(0), count(1), count(2)), (70, 29, 1));
        assert_eq!(idx, stratified_sample(&labels, 3, 100, 1));
        assert_ne!(idx, stratified_sample(&labels, 3, 100, 2));
        assert_eq!(stratified_sample(&labels, 3, 5000, 1).len(), 1000);
    }

    #[test]
    fn stratified_split_is_disjoint_and_covers_every_class() {
        let labels: Vec<u8> = (0..200).map(|i| (i % 4) as u8).collect();
        let (train, val) = stratified_split(&labels, 4, 0.2, 9);
        assert_eq!(train.len() + val.len(), 200);
        assert_eq!(val.len(), 40);
        for c in 0..4u8 {
            assert_eq!(val.iter().filter(|&&i| labels[i] == c).count(), 10);
        }
        let mut all: Vec<usize> = train.iter().chain(&val).copied().collect();
        all.sort();
        assert_eq!(all, (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn decode_gray_converts_and_resizes_and_rejects_garbage() {
        let rgb = image::RgbImage::from_pixel(60, 30, image::Rgb([255, 0, 0]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(rgb)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let px = decode_gray(&png, 48).unwrap();
        assert_eq!(px.len(), 48 * 48);
        assert!(
            px.iter().all(|&v| (50..=58).contains(&v)),
            "red → Rec. 709 luma ≈ 54, got {}",
            px[0]
        );
        assert!(decode_gray(&[], 48).unwrap_err().contains("0 bytes"));
        assert!(decode_gray(b"hello, not an image", 48)
            .unwrap_err()
            .contains("not a readable image"));
        assert!(decode_gray(&png[..png.len() / 2], 48).is_err());
    }
}
