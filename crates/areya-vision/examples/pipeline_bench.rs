//! The vision pipeline's speed on 640×480 frames with a face in each:
//!
//! - `pipeline_bench make FER_VAL_DIR OUT_DIR N`: writes N frames (PNG) — a FER-2013 val face
//!   (angry/happy/neutral/sad, in turn) scaled to 176 px and pasted at a varying place on a
//!   plain background — for this benchmark and the `fer` package's (bench/fer_pipeline.py).
//! - `pipeline_bench run FRAMES_DIR MODEL_DIR`: face detection alone, classification alone at
//!   batch 1/16/64, and end-to-end (detect → crop → classify, 8 frames a batch) on one thread
//!   and on two (one pipeline per thread, libtorch at one intra-op thread each). Frames are
//!   decoded before timing, as in the Python reference. The smallest face is 50 px, as the
//!   reference's `FER(min_face_size=50)` default.
//! - `pipeline_bench accuracy FER_VAL_DIR MODEL_DIR [N_PER_CLASS]`: what the pipeline's face
//!   crop does to accuracy. The first N val faces of each class (default 150) are classified
//!   as they are (48×48, as in `areya evaluate`), only resampled (scaled up and back down with
//!   several filters), and through the pipeline — pasted into a frame as `make` does (and again
//!   with the face's border mirrored outwards instead of plain wall around it), detected,
//!   cropped with each of several margins and the model's fitted crop, and averaged at test
//!   time over the crop's mirror image and scale — and the accuracies are printed side by side.

use areya_core::{FaceCrop, PatientId, SourceId};
use areya_ml::augment::hflip_in_place;
use areya_ml::Classifier;
use areya_vision::crop::{crop_face, face_in_frame};
use areya_vision::pipeline::{FrameMeta, Locator, Pipeline};
use areya_vision::GrayFrame;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod common;
use common::images;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("make") if args.len() == 4 => make(
            Path::new(&args[1]),
            Path::new(&args[2]),
            args[3].parse().unwrap_or(200),
        ),
        Some("run") if args.len() == 3 => run(Path::new(&args[1]), Path::new(&args[2])),
        Some("accuracy") if args.len() == 3 || args.len() == 4 => accuracy(
            Path::new(&args[1]),
            Path::new(&args[2]),
            args.get(3).and_then(|n| n.parse().ok()).unwrap_or(150),
        ),
        _ => eprintln!(
            "usage: pipeline_bench make FER_VAL_DIR OUT_DIR N | run FRAMES_DIR MODEL_DIR | \
             accuracy FER_VAL_DIR MODEL_DIR [N_PER_CLASS]"
        ),
    }
}

fn make(val: &Path, out: &Path, n: usize) {
    std::fs::create_dir_all(out).expect("output folder");
    let classes: Vec<Vec<PathBuf>> = ["angry", "happy", "neutral", "sad"]
        .iter()
        .map(|c| images(&val.join(c)))
        .collect();
    assert!(
        classes.iter().all(|c| !c.is_empty()),
        "{} must hold angry, happy, neutral and sad",
        val.display()
    );
    for i in 0..n {
        let list = &classes[i % 4];
        let face = image::open(&list[(i / 4 * 7) % list.len()])
            .expect("readable face")
            .to_luma8();
        face_in_frame(&face, 176, place(i), 90 + (i % 5) as u8 * 12)
            .as_image()
            .save(out.join(format!("frame-{i:04}.png")))
            .expect("write frame");
    }
    println!("wrote {n} frames to {}", out.display());
}

/// The class index of the largest probability.
fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// Share of `preds` equal to `truth`, and recall per class.
fn scores(preds: &[usize], truth: &[usize], k: usize) -> (f64, Vec<f64>) {
    let hits = preds.iter().zip(truth).filter(|(p, t)| p == t).count();
    let recall = (0..k)
        .map(|c| {
            let n = truth.iter().filter(|&&t| t == c).count().max(1);
            let h = preds
                .iter()
                .zip(truth)
                .filter(|(p, t)| **t == c && p == t)
                .count();
            h as f64 / n as f64
        })
        .collect();
    (hits as f64 / preds.len().max(1) as f64, recall)
}

fn probs_all(clf: &Classifier, crops: &[Vec<u8>]) -> Vec<Vec<f32>> {
    crops
        .chunks(64)
        .flat_map(|c| {
            let px: Vec<u8> = c.iter().flatten().copied().collect();
            clf.predict(&px, c.len()).expect("predict")
        })
        .collect()
}

fn predict_all(clf: &Classifier, crops: &[Vec<u8>]) -> Vec<usize> {
    probs_all(clf, crops).iter().map(|p| argmax(p)).collect()
}

/// Each square crop (`side`×`side`, row-major) mirrored left to right.
fn mirrored(crops: &[Vec<u8>], side: u32) -> Vec<Vec<u8>> {
    crops
        .iter()
        .map(|c| {
            let mut m = c.clone();
            hflip_in_place(&mut m, side);
            m
        })
        .collect()
}

/// The class of the mean of several probability lists, face by face.
fn mean_argmax(sets: &[Vec<Vec<f32>>]) -> Vec<usize> {
    (0..sets[0].len())
        .map(|i| {
            let mut m = vec![0f32; sets[0][i].len()];
            for set in sets {
                for (a, b) in m.iter_mut().zip(&set[i]) {
                    *a += b;
                }
            }
            argmax(&m)
        })
        .collect()
}

fn accuracy(val: &Path, model: &Path, per_class: usize) {
    let clf = Classifier::load(model).expect("model");
    let size = clf.image_size();
    let mut det = locator();
    let mut crops: Vec<(String, FaceCrop)> = [0.0, 0.1, 0.2, 0.3]
        .iter()
        .map(|&m| (format!("margin {m:.1}"), FaceCrop::margin(m)))
        .collect();
    let fitted = clf.config.preprocessing.face_crop_for(det.kind());
    if let Some(c) = fitted {
        crops.push((
            format!(
                "the model's fitted crop (scale {:.3}, dx {:+.3}, dy {:+.3})",
                c.scale, c.dx, c.dy
            ),
            c,
        ));
        // The fitted crop 10% tighter and 10% wider: with it, test-time averaging over the
        // detector's uncertainty about the face's size.
        for f in [0.9, 1.1] {
            crops.push((
                format!("the fitted crop ×{f}"),
                FaceCrop {
                    scale: c.scale * f,
                    ..c
                },
            ));
        }
    }
    use image::imageops::FilterType as F;
    // Scaled up to 176 px (as `face_in_frame` shows faces: triangle) and back down with the
    // pipeline's filter before 2026-12-01 (triangle) and since (Lanczos), and both ways Lanczos:
    // what resampling alone does, without detection or crop.
    let cycles = [
        (F::Triangle, F::Triangle),
        (F::Triangle, F::Lanczos3),
        (F::Lanczos3, F::Lanczos3),
    ];
    let mut cyc: Vec<Vec<Vec<u8>>> = vec![vec![]; cycles.len()];
    let (mut truth, mut direct) = (vec![], vec![]);
    // Two surroundings: the plain wall `make` uses, and the face's own border mirrored outwards
    // (a stand-in for the hair, shoulders and room a camera shows around a face), since a crop
    // wider than the pasted face takes in wall that no training image had.
    let surroundings = ["plain wall", "mirrored surroundings"];
    let mut via: Vec<Vec<Vec<Vec<u8>>>> = vec![vec![vec![]; crops.len()]; surroundings.len()];
    let mut via_truth: Vec<Vec<usize>> = vec![vec![]; surroundings.len()];
    let mut found: Vec<Vec<bool>> = vec![vec![]; surroundings.len()];
    let mut i = 0;
    for (c, folder) in ["angry", "happy", "neutral", "sad"].iter().enumerate() {
        for path in images(&val.join(folder)).iter().take(per_class) {
            let face = image::open(path).expect("readable face").to_luma8();
            let small =
                image::imageops::resize(&face, size, size, image::imageops::FilterType::Triangle);
            direct.push(small.into_raw());
            truth.push(c);
            for ((up, down), out) in cycles.iter().zip(cyc.iter_mut()) {
                let big = image::imageops::resize(&face, 176, 176, *up);
                out.push(image::imageops::resize(&big, size, size, *down).into_raw());
            }
            let wall = 90 + (i % 5) as u8 * 12;
            let frames = [
                face_in_frame(&face, 176, place(i), wall),
                face_in_mirror(&face, 176, place(i), wall),
            ];
            i += 1;
            for (s, frame) in frames.iter().enumerate() {
                let largest = det.largest_upright(frame).expect("detect");
                let largest = largest.as_ref();
                found[s].push(largest.is_some());
                if let Some(b) = largest {
                    for ((_, crop), out) in crops.iter().zip(via[s].iter_mut()) {
                        out.push(crop_face(frame, b, crop, size));
                    }
                    via_truth[s].push(c);
                }
            }
        }
    }
    let names = clf.class_names().join(" / ");
    let (acc, rec) = scores(&predict_all(&clf, &direct), &truth, 4);
    println!("{} val faces; recall per class is {names}", truth.len());
    println!("as they are (48×48):        accuracy {acc:.4}  recall {rec:.3?}");
    for (s, surrounding) in surroundings.iter().enumerate() {
        // The fair comparison: the faces the detector found, as they are (and only resampled).
        let only_found = |all: &[Vec<u8>]| -> Vec<Vec<u8>> {
            all.iter()
                .zip(&found[s])
                .filter(|(_, f)| **f)
                .map(|(d, _)| d.clone())
                .collect()
        };
        println!(
            "== on a {surrounding}: faces found by the detector: {} of {} ({:.1}%)",
            via_truth[s].len(),
            truth.len(),
            100.0 * via_truth[s].len() as f64 / truth.len().max(1) as f64
        );
        let (acc, rec) = scores(&predict_all(&clf, &only_found(&direct)), &via_truth[s], 4);
        println!("  the faces found, as they are: accuracy {acc:.4}  recall {rec:.3?}");
        for ((up, down), all) in cycles.iter().zip(&cyc) {
            let (acc, rec) = scores(&predict_all(&clf, &only_found(all)), &via_truth[s], 4);
            println!(
                "  …scaled to 176 px ({up:?}) and back ({down:?}), no crop: accuracy {acc:.4}  \
                 recall {rec:.3?}"
            );
        }
        for ((name, _), out) in crops.iter().zip(&via[s]) {
            let (acc, rec) = scores(&predict_all(&clf, out), &via_truth[s], 4);
            println!("  through the pipeline, {name}: accuracy {acc:.4}  recall {rec:.3?}");
        }
        if fitted.is_some() {
            // The last three crops are the fitted one, ×0.9 and ×1.1.
            let k = crops.len() - 3;
            let p: Vec<Vec<Vec<f32>>> = via[s][k..].iter().map(|c| probs_all(&clf, c)).collect();
            let f: Vec<Vec<Vec<f32>>> = via[s][k..]
                .iter()
                .map(|c| probs_all(&clf, &mirrored(c, size)))
                .collect();
            let variants = [
                (
                    "fitted crop + its mirror image (2 passes)",
                    vec![p[0].clone(), f[0].clone()],
                ),
                ("fitted crop ×0.9, ×1, ×1.1 (3 passes)", p.clone()),
                (
                    "the three scales and their mirror images (6 passes)",
                    [p, f].concat(),
                ),
            ];
            for (name, sets) in variants {
                let (acc, rec) = scores(&mean_argmax(&sets), &via_truth[s], 4);
                println!("  test-time averaging, {name}: accuracy {acc:.4}  recall {rec:.3?}");
            }
        }
    }
}

/// As [`face_in_frame`], with the scaled face's border mirrored outwards by half its side on
/// every side (clipped at the frame), so that a crop wider than the face sees image content
/// continuing the face's own edges rather than flat wall.
fn face_in_mirror(face: &image::GrayImage, side: u32, at: (i64, i64), wall: u8) -> GrayFrame {
    let big = image::imageops::resize(face, side, side, image::imageops::FilterType::Triangle);
    let pad = side as i64 / 2;
    let s = side as i64;
    // Reflect index k (any integer) into 0..s without repeating the edge pixel.
    let reflect = |k: i64| -> u32 {
        let period = 2 * (s - 1);
        let m = k.rem_euclid(period);
        (if m < s { m } else { period - m }) as u32
    };
    let mut frame = image::GrayImage::from_pixel(640, 480, image::Luma([wall]));
    for y in -pad..s + pad {
        for x in -pad..s + pad {
            let (fx, fy) = (at.0 + x, at.1 + y);
            if (0..640).contains(&fx) && (0..480).contains(&fy) {
                let p = *big.get_pixel(reflect(x), reflect(y));
                frame.put_pixel(fx as u32, fy as u32, p);
            }
        }
    }
    GrayFrame {
        width: 640,
        height: 480,
        pixels: frame.into_raw(),
    }
}

/// Where the `i`-th face goes in its frame (top-left corner).
fn place(i: usize) -> (i64, i64) {
    (120 + (i * 37 % 300) as i64, 60 + (i * 53 % 200) as i64)
}

fn load(dir: &Path) -> Vec<GrayFrame> {
    images(dir)
        .iter()
        .filter_map(|p| image::open(p).ok())
        .filter_map(|img| GrayFrame::from_image(&img).ok())
        .collect()
}

/// The detector `DETECTOR` names (blazeface, the default, or seetaface), with the same
/// smallest face as the reference (`FER()`'s `min_face_size=50`).
fn locator() -> Locator {
    let kind = std::env::var("DETECTOR")
        .unwrap_or_else(|_| "blazeface".into())
        .parse()
        .expect("DETECTOR: blazeface or seetaface");
    Locator::of_kind(kind, 50, None).expect("detector")
}

/// Each frame from a camera of its own: faces jump from frame to frame here, which no camera
/// shows, so no frame should be judged by the track of another.
fn meta(i: usize) -> FrameMeta {
    FrameMeta {
        source: SourceId::parse(&format!("bench-{i}")).expect("valid id"),
        patient: PatientId::parse("bench").expect("valid id"),
        at_ms: i as i64,
        frame: i as u64,
        roi: None,
    }
}

/// End-to-end frames/s of one pipeline over `frames`, 8 frames a batch.
fn end_to_end(model: &Path, frames: &[GrayFrame]) -> (f64, usize) {
    let clf = Classifier::load(model).expect("model");
    let mut pipe = Pipeline::new(clf, locator()).expect("pipeline");
    // Warm-up (libtorch's first call allocates).
    let _ = pipe.observe(&[(frames[0].clone(), meta(0))]);
    let start = Instant::now();
    let mut faces = 0;
    for (k, chunk) in frames.chunks(8).enumerate() {
        let batch: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), meta(k * 8 + i)))
            .collect();
        faces += pipe
            .observe(&batch)
            .expect("observe")
            .iter()
            .filter(|o| o.face.is_some())
            .count();
    }
    (frames.len() as f64 / start.elapsed().as_secs_f64(), faces)
}

fn run(dir: &Path, model: &Path) {
    let frames = load(dir);
    assert!(!frames.is_empty(), "no frames in {}", dir.display());
    tch::set_num_threads(1);
    let n = frames.len();

    let mut det = locator();
    println!("detector: {}", det.kind());
    let start = Instant::now();
    let found: Vec<Vec<_>> = frames
        .iter()
        .map(|f| {
            det.largest_upright(f)
                .expect("detect")
                .into_iter()
                .collect()
        })
        .collect();
    let det_fps = n as f64 / start.elapsed().as_secs_f64();
    let with_face = found.iter().filter(|f| !f.is_empty()).count();
    println!(
        "frames: {n} (640×480), a face found in {with_face} ({:.1}%)",
        100.0 * with_face as f64 / n as f64
    );
    println!("detection (1 thread): {det_fps:.1} frames/s");

    let clf = Classifier::load(model).expect("model");
    let size = clf.image_size();
    let crops: Vec<Vec<u8>> = frames
        .iter()
        .zip(&found)
        .filter_map(|(f, b)| {
            b.iter()
                .max_by_key(|b| b.area())
                .map(|b| crop_face(f, b, &FaceCrop::margin(0.2), size))
        })
        .collect();
    for batch in [1usize, 16, 64] {
        let _ = clf.predict(&crops[0], 1);
        let start = Instant::now();
        let mut done = 0;
        while done < 512 {
            let k = batch.min(512 - done);
            let px: Vec<u8> = (0..k)
                .flat_map(|i| crops[(done + i) % crops.len()].iter().copied())
                .collect();
            clf.predict(&px, k).expect("predict");
            done += k;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "classification batch {batch:>2} (1 thread): {:.0} faces/s, {:.2} ms per batch",
            done as f64 / secs,
            secs * 1000.0 / (done as f64 / batch as f64)
        );
    }

    let (fps1, faces1) = end_to_end(model, &frames);
    println!("end-to-end, 1 thread: {fps1:.1} frames/s ({faces1} faces classified)");
    let halves: Vec<Vec<GrayFrame>> = vec![frames[..n / 2].to_vec(), frames[n / 2..].to_vec()];
    let handles: Vec<_> = halves
        .into_iter()
        .map(|h| {
            let m = model.to_path_buf();
            std::thread::spawn(move || {
                let (fps, faces) = end_to_end(&m, &h);
                (h.len() as f64 / fps, faces)
            })
        })
        .collect();
    let done: Vec<(f64, usize)> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    // Both halves run at once: the ward's rate is all frames over the slower thread's time.
    let secs = done.iter().map(|d| d.0).fold(0.0, f64::max);
    let faces2: usize = done.iter().map(|d| d.1).sum();
    println!(
        "end-to-end, 2 threads: {:.1} frames/s ({faces2} faces classified)",
        n as f64 / secs
    );
}
