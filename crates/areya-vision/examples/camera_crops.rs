//! Training faces as the bedside pipeline cuts them out: each FER-2013 **train** image laid into
//! a random camera view (a flat or graded surround with folds, any roll up to lying on the side,
//! 60–200 px, day or night with sensor noise), found by the bedside finder, turned upright by
//! its landmarks and cropped with the model's measured face crop — what the model sees on a
//! ward, instead of the photo's own framing. The scenes are drawn here, not from
//! `areya_vision::scene`, so that the bedside benchmark's bed, pillow and oval stay out of
//! training.
//!
//! `camera_crops FER_ROOT MODEL_DIR OUT_DIR`: writes `OUT_DIR/train/<class>/c-<name>.png` for
//! each face found (its centre within a third of the face's side of where it was laid), links
//! each original image beside it as `o-<name>` and links `OUT_DIR/val` to `FER_ROOT/val`, so
//! that `areya train --data OUT_DIR` learns from both and selects on val as it is. Seeded per
//! image: the same files on every run. Two threads.

use areya_core::{FaceCrop, FaceDetectorKind};
use areya_vision::bedside::{FaceFinder, FinderConfig, Track};
use areya_vision::blazeface::BlazeFace;
use areya_vision::crop::aligned_crop;
use areya_vision::model::{EmotionModel, Runtime};
use areya_vision::scene::{self, Rng};
use areya_vision::GrayFrame;
use std::path::{Path, PathBuf};

mod common;
use common::images;

/// One camera view of `face`, and where its centre and side are.
fn view(face: &image::GrayImage, rng: &mut Rng) -> (GrayFrame, (f32, f32, f32)) {
    let side = rng.range(60.0, 200.0);
    // The frame is the bed area around the head: 2.5–3.5 face sides.
    let size = (side * rng.range(2.5, 3.5)).max(160.0) as usize;
    let (cx, cy) = (
        size as f32 * rng.range(0.35, 0.65),
        size as f32 * rng.range(0.35, 0.65),
    );
    // Roll: four in ten within 10° of upright, the rest anywhere to lying on either side.
    let roll = if rng.range(0.0, 1.0) < 0.4 {
        rng.range(-10.0, 10.0)
    } else {
        rng.range(-100.0, 100.0)
    }
    .to_radians();
    let night = rng.range(0.0, 1.0) < 0.3;
    let (light, noise) = if night {
        (rng.range(0.2, 0.4), rng.range(2.0, 6.0))
    } else {
        (rng.range(0.7, 1.0), rng.range(0.0, 2.0))
    };
    // Surround: a flat gray, a gradient and folds.
    let gray = rng.range(30.0, 230.0);
    let (gx, gy) = (rng.range(-40.0, 40.0), rng.range(-40.0, 40.0));
    let (fold, period, phase) = (
        rng.range(0.0, 20.0),
        rng.range(15.0, 60.0),
        rng.range(0.0, 6.0),
    );
    // Blend: a soft ellipse around the face (what shows of a head on a pillow), or the square.
    let ellipse = rng.range(0.0, 1.0) < 0.7;
    let (ew, eh, edge) = (
        rng.range(0.36, 0.52),
        rng.range(0.42, 0.58),
        rng.range(0.03, 0.10),
    );
    let (sin, cos) = roll.sin_cos();
    let mut pixels = Vec::with_capacity(size * size);
    for y in 0..size {
        for x in 0..size {
            let (xf, yf) = (x as f32 / size as f32 - 0.5, y as f32 / size as f32 - 0.5);
            let mut v = gray + gx * xf + gy * yf + fold * (x as f32 / period + phase).sin();
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let (u, w) = (
                (dx * cos + dy * sin) / side + 0.5,
                (-dx * sin + dy * cos) / side + 0.5,
            );
            if (0.0..1.0).contains(&u) && (0.0..1.0).contains(&w) {
                let alpha = if ellipse {
                    let r = (((u - 0.5) / ew).powi(2) + ((w - 0.5) / eh).powi(2)).sqrt();
                    ((1.0 - r) / edge).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                v = v * (1.0 - alpha) + scene::face_at(face, u, w) * alpha;
            }
            let n = if noise > 0.0 {
                rng.normal() * noise
            } else {
                0.0
            };
            pixels.push((v * light + n).round().clamp(0.0, 255.0) as u8);
        }
    }
    let frame = GrayFrame {
        width: size as u32,
        height: size as u32,
        pixels,
    };
    (frame, (cx, cy, side))
}

/// Crops `files` (index, class folder, path) into `out`; returns how many faces were found.
fn crop_all(files: &[(usize, String, PathBuf)], out: &Path, crop: &FaceCrop, size: u32) -> usize {
    let finder = FaceFinder::new(
        BlazeFace::embedded().expect("detector"),
        FinderConfig::default(),
    )
    .expect("finder");
    let mut found = 0;
    for (i, folder, path) in files {
        let Ok(img) = image::open(path) else {
            eprintln!("skipped {}: unreadable", path.display());
            continue;
        };
        let face = img.to_luma8();
        let mut rng = Rng::new(77_000 + *i as u64);
        let (frame, (cx, cy, side)) = view(&face, &mut rng);
        let Some(f) = finder
            .find(&frame, None, &mut Track::default())
            .expect("find")
        else {
            continue;
        };
        if ((f.cx - cx).powi(2) + (f.cy - cy).powi(2)).sqrt() > side / 3.0 {
            continue;
        }
        let px = aligned_crop(&frame, &f, crop, size);
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("face");
        image::GrayImage::from_raw(size, size, px)
            .expect("crop size")
            .save(out.join("train").join(folder).join(format!("c-{name}.png")))
            .expect("write crop");
        found += 1;
    }
    found
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, model, out] = &args[..] else {
        eprintln!("usage: camera_crops FER_ROOT MODEL_DIR OUT_DIR");
        std::process::exit(2);
    };
    let (root, out) = (Path::new(root), Path::new(out));
    let model = EmotionModel::load(Path::new(model), Some(Runtime::Libtorch)).expect("model");
    let crop = model
        .face_crop_for(FaceDetectorKind::BlazeFace)
        .0
        .expect("the model's face crop measured against BlazeFace (areya fit-crop)");
    let size = model.image_size();
    let root = std::fs::canonicalize(root).expect("FER_ROOT");
    let mut files = Vec::new();
    for class in images(&root.join("train")) {
        let folder = class.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::create_dir_all(out.join("train").join(&folder)).expect("output folder");
        for path in images(&class) {
            let link = out
                .join("train")
                .join(&folder)
                .join(format!("o-{}", path.file_name().unwrap().to_string_lossy()));
            if !link.exists() {
                std::os::unix::fs::symlink(&path, &link).expect("link original");
            }
            files.push((files.len(), folder.clone(), path));
        }
    }
    if !out.join("val").exists() {
        std::os::unix::fs::symlink(root.join("val"), out.join("val")).expect("link val");
    }
    let half = files.len().div_ceil(2).max(1);
    let found: usize = std::thread::scope(|s| {
        let jobs: Vec<_> = files
            .chunks(half)
            .map(|part| s.spawn(|| crop_all(part, out, &crop, size)))
            .collect();
        jobs.into_iter().map(|j| j.join().expect("thread")).sum()
    });
    println!(
        "{found} of {} train faces found and cropped into {}",
        files.len(),
        out.display()
    );
}
