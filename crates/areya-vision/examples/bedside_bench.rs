//! The bedside benchmark: FER-2013 val faces lying on a pillow in a 640×480 bed scene
//! (`areya_vision::scene`), in six conditions a bed camera sees — upright, tilted 20–35°,
//! tilted 50–70°, lying on the side (80–100°), night (a quarter of the light and sensor noise)
//! and a small face (60–80 px, a camera across the room) — each as clips of consecutive frames
//! in which the head keeps its pose (moving a little) while the face image changes, as an
//! expression does. Per condition and pipeline: the share of frames in which the patient's
//! face was found (a face reported anywhere else counts as a false face, not as found),
//! accuracy among the frames found, accuracy over all frames (a missed face is wrong), and
//! milliseconds per frame on one thread (detection, crop and classification in batches of a
//! clip). Above each condition, the accuracy when each face is cut out at its true place, size
//! and roll (no detector): what the scene leaves readable. Then the bed with nobody in it, by
//! day and at night: false faces, milliseconds and detector views a frame (not in the totals).
//!
//! - `bedside_bench run FER_VAL_DIR MODEL_DIR [CLIPS] [FRAMES]`: builds the frames in memory
//!   (default 20 clips of 8 frames per condition: 160 frames) and compares SeetaFace (the
//!   pipeline before), plain BlazeFace on the bed area (one view, no turns, tiles, alignment or
//!   tracking: the best single configuration of an established detector) and Areya's bedside
//!   pipeline, and each of Areya's parts taken away in turn.
//! - `bedside_bench make FER_VAL_DIR OUT_DIR [CLIPS] [FRAMES]`: writes the same frames as PNG
//!   with `truth.csv`, for peers outside Rust (bench/bedside_peer.py).
//! - With `BEDSIDE_FIT=1`, two more lines per pipeline and condition: how far the faces found
//!   sit from the truth (roll, size, centre) and their accuracy with the place and size or the
//!   roll swapped for the truth.
//! - `BEDSIDE_CONDITIONS="small|night"`: only the conditions named.
//! - `BEDSIDE_MIN_FACE=30`: the bedside pipeline also with that `min_face`.
//! - With `BEDSIDE_MISSES=1`, on standard error: each clip with a frame missed (`o` found, `.`
//!   missed, with the clip's face size and roll) and each false face with the truth beside it.
//! - `bedside_bench pillow FER_VAL_DIR [FACES]`: the finder alone on small faces laid on the
//!   pillow's top edge, by day, dim and at night, in three-frame clips — how often the pillow
//!   around the face is reported as a face — and on faces laid large (the camera close by),
//!   with and without the second look inside large faces; by light and by face size.
//! - `bedside_bench far FER_VAL_DIR [FACES] [FRAMES]`: the finder alone on a far camera's view
//!   (faces 45 and 55 px lying still on the pillow for FRAMES frames, default 60), with and
//!   without the far search and with `min_face` 30 set by hand: when each face is first found,
//!   how much of the clip's second half it is reported in, and false faces in an empty bed
//!   watched as long (`BEDSIDE_ONLY` names the finders to run).

use areya_core::FaceCrop;
use areya_core::{Emotion, FaceDetectorKind, PatientId, SourceId};
use areya_ml::Classifier;
use areya_vision::bedside::{Face, FaceFinder, FinderConfig, Track};
use areya_vision::crop::aligned_crop;
use areya_vision::model::{EmotionModel, Runtime};
use areya_vision::pipeline::{FrameMeta, Locator, Pipeline};
use areya_vision::roi::Roi;
use areya_vision::scene::{self, Pose, Rng};
use areya_vision::view::{detector_input, View};
use areya_vision::GrayFrame;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod common;
use common::images;

const CLASSES: [&str; 4] = ["angry", "happy", "neutral", "sad"];

struct Condition {
    name: &'static str,
    roll: (f32, f32),
    side: (f32, f32),
    light: f32,
    noise: f32,
}

/// A condition by day, without sensor noise.
const fn day(name: &'static str, roll: (f32, f32), side: (f32, f32)) -> Condition {
    Condition {
        name,
        roll,
        side,
        light: 1.0,
        noise: 0.0,
    }
}

const CONDITIONS: [Condition; 6] = [
    day("upright", (0.0, 10.0), (140.0, 180.0)),
    day("tilt 30", (20.0, 35.0), (140.0, 180.0)),
    day("tilt 60", (50.0, 70.0), (140.0, 180.0)),
    day("side 90", (80.0, 100.0), (140.0, 180.0)),
    Condition {
        light: 0.25,
        noise: 4.0,
        ..day("night", (0.0, 10.0), (140.0, 180.0))
    },
    day("small", (0.0, 10.0), (60.0, 80.0)),
];

/// One frame with what is true about it.
struct Shot {
    frame: GrayFrame,
    clip: usize,
    class: usize,
    pose: Pose,
}

/// The frames of one condition. The same faces in every condition (only the pose differs);
/// within a clip the head moves up to 3 px and 2° from frame to frame; rolls alternate in sign
/// between clips (lying on the left side and on the right).
fn shots(val: &[Vec<PathBuf>], k: usize, clips: usize, per_clip: usize) -> Vec<Shot> {
    let c = &CONDITIONS[k];
    let background = scene::bed(7);
    let mut out = Vec::with_capacity(clips * per_clip);
    for clip in 0..clips {
        let mut rng = Rng::new(1000 + clip as u64);
        let sign = if clip % 2 == 0 { 1.0 } else { -1.0 };
        let base = Pose {
            cx: 320.0 + rng.range(-60.0, 60.0),
            cy: 175.0 + rng.range(-30.0, 30.0),
            side: rng.range(c.side.0, c.side.1),
            roll_deg: sign * rng.range(c.roll.0, c.roll.1),
            light: c.light,
            noise: c.noise,
        };
        let mut noise = Rng::new(5000 + (k * clips + clip) as u64);
        for f in 0..per_clip {
            let class = (clip + f) % 4;
            let list = &val[class];
            let n = clip * per_clip + f;
            let face = image::open(&list[(n / 4 * 7 + n % 4) % list.len()])
                .expect("readable face")
                .to_luma8();
            let pose = Pose {
                cx: base.cx + rng.range(-3.0, 3.0),
                cy: base.cy + rng.range(-3.0, 3.0),
                roll_deg: base.roll_deg + rng.range(-2.0, 2.0),
                ..base
            };
            out.push(Shot {
                frame: scene::compose(&background, &face, &pose, &mut noise),
                clip,
                class,
                pose,
            });
        }
    }
    out
}

/// Frames a clip of the empty bed.
const EMPTY_CLIP: usize = 40;

/// Frames of the bed with nobody in it: each clip its own blanket folds, by day and (every other
/// clip) at night with sensor noise. Every face reported here is a false face.
fn empty_shots(clips: usize, per_clip: usize) -> Vec<Shot> {
    (0..clips)
        .flat_map(|clip| empty_clip(clip, per_clip))
        .collect()
}

/// Clip `clip` of [`empty_shots`].
fn empty_clip(clip: usize, per_clip: usize) -> Vec<Shot> {
    let nobody = image::GrayImage::new(1, 1);
    let background = scene::bed(100 + clip as u64);
    let night = clip % 2 == 1;
    let mut noise = Rng::new(9000 + clip as u64);
    (0..per_clip)
        .map(|_| {
            let pose = if night {
                Pose::upright(320.0, 175.0, 0.0).lit(0.25, 4.0)
            } else {
                Pose::upright(320.0, 175.0, 0.0)
            };
            Shot {
                frame: scene::compose(&background, &nobody, &pose, &mut noise),
                clip,
                class: 0,
                pose,
            }
        })
        .collect()
}

/// Whether `BEDSIDE_ONLY` (names separated by '|') leaves the pipeline or finder `name` in.
fn chosen(name: &str) -> bool {
    std::env::var("BEDSIDE_ONLY").map_or(true, |only| {
        only.split('|').any(|n| n.trim() == name.trim())
    })
}

fn load_val(dir: &Path) -> Vec<Vec<PathBuf>> {
    let val: Vec<Vec<PathBuf>> = CLASSES.iter().map(|c| images(&dir.join(c))).collect();
    assert!(
        val.iter().all(|c| !c.is_empty()),
        "{} must hold angry, happy, neutral and sad",
        dir.display()
    );
    val
}

#[derive(Default, Clone, Copy)]
struct Tally {
    frames: usize,
    found: usize,
    correct: usize,
    false_faces: usize,
    secs: f64,
    views: u64,
}

/// Each face a pipeline found, with its shot's index, as the crop took it (`BEDSIDE_FIT=1`):
/// BlazeFace pipelines only, since only they report the roll the crop was turned by.
type Found = Vec<(usize, Face)>;

/// How the faces found sit on the truth: the roll the crop was turned by against the roll the
/// face was laid at (degrees; FER-2013's faces lean a few degrees in their own images, so
/// upright shows what that alone gives), the face's side against the laid square's, and the
/// centre's distance from the square's, in its sides.
fn fit_line(shots: &[Shot], found: &Found) -> String {
    let (mut roll, mut size, mut offset) = (vec![], vec![], vec![]);
    for (k, f) in found {
        let pose = &shots[*k].pose;
        let d = (f.roll.to_degrees() - pose.roll_deg).rem_euclid(360.0);
        roll.push(if d > 180.0 { 360.0 - d } else { d });
        size.push(f.side / pose.side);
        offset.push(((f.cx - pose.cx).powi(2) + (f.cy - pose.cy).powi(2)).sqrt() / pose.side);
    }
    let q = |v: &mut Vec<f32>, p: f32| {
        v.sort_by(f32::total_cmp);
        v.get(((v.len().max(1) - 1) as f32 * p).round() as usize)
            .copied()
            .unwrap_or(f32::NAN)
    };
    format!(
        "  faces found: roll off by {:.1}° (median), {:.1}° (90th percentile); side {:.2} × \
         the laid square's (quartiles {:.2}–{:.2}); centre {:.2} of a side off (median)",
        q(&mut roll, 0.5),
        q(&mut roll, 0.9),
        q(&mut size, 0.5),
        q(&mut size, 0.25),
        q(&mut size, 0.75),
        q(&mut offset, 0.5),
    )
}

fn measure(pipe: &mut Pipeline, condition: &str, shots: &[Shot], per_clip: usize) -> Tally {
    measure_fit(pipe, condition, shots, per_clip).0
}

fn measure_fit(
    pipe: &mut Pipeline,
    condition: &str,
    shots: &[Shot],
    per_clip: usize,
) -> (Tally, Found) {
    let (x, y, w, h) = scene::BED;
    let roi = Roi {
        x,
        y,
        width: w,
        height: h,
    };
    let (mut t, mut found) = (Tally::default(), Found::new());
    for (i, clip) in shots.chunks(per_clip).enumerate() {
        let batch: Vec<(GrayFrame, FrameMeta)> = clip
            .iter()
            .enumerate()
            .map(|(f, s)| {
                (
                    s.frame.clone(),
                    FrameMeta {
                        // A camera per clip and condition: no track carries over from the
                        // last condition's clip at the same place.
                        source: SourceId::parse(&format!(
                            "{}-clip-{i}-{}",
                            condition.replace(' ', ""),
                            s.clip
                        ))
                        .expect("id"),
                        patient: PatientId::parse("bench").expect("id"),
                        at_ms: f as i64 * 500,
                        frame: f as u64,
                        roi: Some(roi),
                    },
                )
            })
            .collect();
        let (start, views) = (Instant::now(), pipe.detector_views());
        let seen = pipe.observe_seen(&batch).expect("observe");
        t.secs += start.elapsed().as_secs_f64();
        t.views += pipe.detector_views() - views;
        if std::env::var_os("BEDSIDE_MISSES").is_some() {
            let marks: String = seen
                .iter()
                .map(|s| {
                    if s.observation.face.is_some() {
                        'o'
                    } else {
                        '.'
                    }
                })
                .collect();
            if marks.contains('.') {
                eprintln!(
                    "{condition} clip {i}: {marks} side {:.0} roll {:.0}",
                    clip[0].pose.side, clip[0].pose.roll_deg
                );
            }
        }
        for (seen, s) in seen.iter().zip(clip) {
            t.frames += 1;
            let Some(areya_core::SeenFace {
                bbox: b,
                probs: p,
                quality,
            }) = seen.observation.face
            else {
                continue;
            };
            let (bx, by) = (
                b.x as f32 + b.width as f32 / 2.0,
                b.y as f32 + b.height as f32 / 2.0,
            );
            let off = ((bx - s.pose.cx).powi(2) + (by - s.pose.cy).powi(2)).sqrt();
            if off > 0.5 * s.pose.side {
                if std::env::var_os("BEDSIDE_MISSES").is_some() {
                    eprintln!("{condition} clip {i}: false face {b:?} truth {:?}", s.pose);
                }
                t.false_faces += 1;
                continue;
            }
            t.found += 1;
            // CLASSES are in Areya's order: angry, happy, relaxed (neutral), sad.
            t.correct += usize::from(p.top() == Emotion::ALL[s.class]);
            if let (Some(roll), Some(q)) = (seen.roll, quality) {
                found.push((
                    t.frames - 1,
                    Face {
                        cx: bx,
                        cy: by,
                        side: q.face_px as f32,
                        roll,
                        score: 1.0,
                        landmarks: [(0.0, 0.0); 6],
                    },
                ));
            }
        }
    }
    (t, found)
}

/// The face as it was laid into the scene (the pasted image's own square), turned by `roll`.
fn laid(s: &Shot, roll: f32) -> Face {
    Face {
        cx: s.pose.cx,
        cy: s.pose.cy,
        side: s.pose.side,
        roll,
        score: 1.0,
        landmarks: [(0.0, 0.0); 6],
    }
}

/// How many of `cuts` (a shot's index and the crop of its face) the model reads right; the
/// model's outputs are in the benchmark's class order for Areya's models.
fn read_right(model: &EmotionModel, shots: &[Shot], cuts: Vec<(usize, Vec<u8>)>) -> usize {
    let pixels: Vec<u8> = cuts.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    let probs = model.predict(&pixels, cuts.len()).expect("predict");
    probs
        .iter()
        .zip(&cuts)
        .filter(|(p, (k, _))| {
            let top = p
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i);
            top == Some(shots[*k].class)
        })
        .count()
}

/// Accuracy when the face is cut out at its true place, size and roll (the pasted face image's
/// own square, no detector): the ceiling of what any detector and crop could read in these
/// scenes, so that what the pillow and the scene's resampling cost is told apart from what the
/// detector's box costs.
fn truth_correct(model: &EmotionModel, shots: &[Shot]) -> usize {
    let size = model.image_size();
    let square = FaceCrop::margin(0.0);
    let cuts = shots
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let face = laid(s, s.pose.roll_deg.to_radians());
            (k, aligned_crop(&s.frame, &face, &square, size))
        })
        .collect();
    read_right(model, shots, cuts)
}

/// Of the faces found, the share read right as the pipeline cut them, and with the place and
/// size or the roll swapped for the truth: which of the two the accuracy is lost to.
fn decompose(model: &EmotionModel, shots: &[Shot], found: &Found, crop: &FaceCrop) -> String {
    let size = model.image_size();
    let square = FaceCrop::margin(0.0);
    let read = |cut: &dyn Fn(&Shot, &Face) -> Vec<u8>| -> f64 {
        let cuts = found
            .iter()
            .map(|(k, f)| (*k, cut(&shots[*k], f)))
            .collect();
        100.0 * read_right(model, shots, cuts) as f64 / found.len().max(1) as f64
    };
    let true_roll = |s: &Shot| s.pose.roll_deg.to_radians();
    let as_found = read(&|s, f| aligned_crop(&s.frame, f, crop, size));
    let true_place = read(&|s, f| aligned_crop(&s.frame, &laid(s, f.roll), &square, size));
    let box_found = read(&|s, f| {
        let f = Face {
            roll: true_roll(s),
            ..*f
        };
        aligned_crop(&s.frame, &f, crop, size)
    });
    let truth = read(&|s, _| aligned_crop(&s.frame, &laid(s, true_roll(s)), &square, size));
    format!(
        "  faces found, read right: as cut {as_found:.1}%; the laid square turned by the roll \
         found {true_place:.1}%; the box found turned by the laid roll {box_found:.1}%; the laid \
         square {truth:.1}%"
    )
}

fn pipelines(model: &Path) -> Vec<(String, Pipeline)> {
    let clf = || Classifier::load(model).expect("model");
    let bedside = |cfg: FinderConfig| Locator::bedside(cfg, None).expect("detector");
    let mut v = vec![
        (
            "seetaface (before)".to_string(),
            Pipeline::new(
                clf(),
                Locator::of_kind(FaceDetectorKind::SeetaFace, 40, None).unwrap(),
            )
            .expect("pipeline"),
        ),
        ("blazeface, bed area, one view".to_string(), {
            let mut p = Pipeline::new(
                clf(),
                bedside(FinderConfig {
                    sweep: vec![0.0],
                    tiles_per_frame: 0,
                    refine: false,
                    track: false,
                    ..FinderConfig::default()
                }),
            )
            .expect("pipeline");
            p.align = false;
            p
        }),
        (
            "areya bedside".to_string(),
            Pipeline::new(clf(), bedside(FinderConfig::default())).expect("pipeline"),
        ),
    ];
    // A model without an ONNX export (`areya export --onnx`) is measured on libtorch only.
    if model.join("model.onnx").exists() {
        v.push((
            "areya bedside, model on tract".to_string(),
            Pipeline::new(
                EmotionModel::load(model, Some(Runtime::Tract)).expect("model.onnx"),
                bedside(FinderConfig::default()),
            )
            .expect("pipeline"),
        ));
    }
    // BEDSIDE_MIN_FACE=30: the bedside pipeline also with that smallest face (a camera
    // farther from the bed), beside the default.
    if let Some(min_face) = std::env::var("BEDSIDE_MIN_FACE")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        v.push((
            format!("areya bedside, min_face {min_face}"),
            Pipeline::new(
                clf(),
                bedside(FinderConfig {
                    min_face,
                    ..FinderConfig::default()
                }),
            )
            .expect("pipeline"),
        ));
    }
    if std::env::var_os("BEDSIDE_ABLATION").is_some() {
        let d = FinderConfig::default;
        let without = [
            (
                "turns",
                FinderConfig {
                    sweep: vec![0.0],
                    ..d()
                },
            ),
            (
                "tiles",
                FinderConfig {
                    tiles_per_frame: 0,
                    ..d()
                },
            ),
            (
                "big tiles (128-pixel tiles, three a frame)",
                FinderConfig {
                    tile_view: 128,
                    tiles_per_frame: 3,
                    ..d()
                },
            ),
            (
                "less-sure small faces from the tiles",
                FinderConfig {
                    tile_hints: false,
                    ..d()
                },
            ),
            (
                "a second look inside large faces",
                FinderConfig {
                    look_inside: false,
                    ..d()
                },
            ),
            (
                "tracking",
                FinderConfig {
                    track: false,
                    ..d()
                },
            ),
            (
                "size hysteresis",
                FinderConfig {
                    keep_size: 1.0,
                    ..d()
                },
            ),
            (
                "resting",
                FinderConfig {
                    rest_after: 0,
                    ..d()
                },
            ),
            ("the far search", FinderConfig { far_face: 0, ..d() }),
            (
                "hysteresis",
                FinderConfig {
                    keep_threshold: d().threshold,
                    keep_size: 1.0,
                    ..d()
                },
            ),
        ];
        for (part, cfg) in without {
            v.push((
                format!("  without {part}"),
                Pipeline::new(clf(), bedside(cfg)).expect("pipeline"),
            ));
        }
        v.push(("  without alignment".into(), {
            let mut p = Pipeline::new(clf(), bedside(d())).expect("pipeline");
            p.align = false;
            p
        }));
    }
    v
}

/// Milliseconds per BlazeFace view and per view sampled from a frame, on one thread.
fn unit_costs() {
    let net = areya_vision::blazeface::BlazeFace::embedded().expect("detector");
    let frame = scene::compose(
        &scene::bed(7),
        &image::GrayImage::new(48, 48),
        &Pose {
            cx: 320.0,
            cy: 200.0,
            side: 150.0,
            roll_deg: 30.0,
            light: 1.0,
            noise: 0.0,
        },
        &mut Rng::new(1),
    );
    let view = areya_vision::view::View {
        cx: 320.0,
        cy: 260.0,
        side: 440.0,
        angle: 0.5,
    };
    let time = |f: &dyn Fn()| {
        f();
        let start = Instant::now();
        for _ in 0..50 {
            f();
        }
        start.elapsed().as_secs_f64() * 1000.0 / 50.0
    };
    // The network on a 128×128 view, and on a 256×256 one as the search's tiles run it.
    let on = |net: &areya_vision::blazeface::BlazeFace| {
        let px = areya_vision::view::detector_input(&view.sample(&frame, net.input()));
        time(&|| {
            net.detect(&px).expect("detect");
        })
    };
    let net_ms = on(&net);
    let tile_ms = on(&net.at(256).expect("detector at 256"));
    let full = time(&|| {
        std::hint::black_box(view.sample(&frame, 128));
    });
    // What the finder does: each frame's halvings made once, the view read from the level that
    // fits it.
    let mip = time(&|| {
        let levels = areya_vision::view::Mipmap::new(&frame);
        std::hint::black_box(view.sample_mip(&levels, 128));
    });
    println!(
        "BlazeFace (tract): {net_ms:.2} ms per view ({tile_ms:.2} ms per 256×256 tile); sampling \
         a turned 440 px view to 128 px: {mip:.2} ms from the frame's halvings ({full:.2} ms \
         from the frame itself)"
    );
}

fn run(val: &Path, model: &Path, clips: usize, per_clip: usize) {
    tch::set_num_threads(1);
    unit_costs();
    let val = load_val(val);
    let mut pipes = pipelines(model);
    // BEDSIDE_ONLY="areya bedside": only the pipelines so named (separated by '|'), e.g. to
    // profile one or to compare models without an ONNX export.
    pipes.retain(|(name, _)| chosen(name));
    println!(
        "Bedside benchmark: {clips} clips × {per_clip} frames per condition, FER-2013 val faces, \
         model {}, one thread",
        model.display()
    );
    println!(
        "{:<30} {:<9} {:>7} {:>10} {:>9} {:>7} {:>8} {:>6}",
        "pipeline", "condition", "found", "acc|found", "acc all", "false", "ms/frame", "views"
    );
    let truth = EmotionModel::load(model, Some(Runtime::Libtorch)).expect("model");
    let mut totals = vec![Tally::default(); pipes.len()];
    let mut worst = vec![(f64::MAX, f64::MAX); pipes.len()];
    for (k, condition) in CONDITIONS.iter().enumerate() {
        if let Ok(only) = std::env::var("BEDSIDE_CONDITIONS") {
            if !only.split('|').any(|c| c == condition.name) {
                continue;
            }
        }
        let shots = shots(&val, k, clips, per_clip);
        println!(
            "{:<30} {:<9} {:>7} {:>10} {:>8.1}%",
            "the face's true square",
            condition.name,
            "-",
            "-",
            100.0 * truth_correct(&truth, &shots) as f64 / shots.len().max(1) as f64
        );
        for (j, (name, pipe)) in pipes.iter_mut().enumerate() {
            let (t, found) = measure_fit(pipe, condition.name, &shots, per_clip);
            let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
            println!(
                "{:<30} {:<9} {:>6.1}% {:>9.1}% {:>8.1}% {:>7} {:>8.2} {:>6.2}",
                name,
                condition.name,
                pct(t.found, t.frames),
                pct(t.correct, t.found),
                pct(t.correct, t.frames),
                t.false_faces,
                1000.0 * t.secs / t.frames.max(1) as f64,
                t.views as f64 / t.frames.max(1) as f64
            );
            if std::env::var_os("BEDSIDE_FIT").is_some() && !found.is_empty() {
                println!("{}", fit_line(&shots, &found));
                println!("{}", decompose(&truth, &shots, &found, &pipe.crop));
            }
            let tot = &mut totals[j];
            tot.frames += t.frames;
            tot.found += t.found;
            tot.correct += t.correct;
            tot.false_faces += t.false_faces;
            tot.secs += t.secs;
            worst[j].0 = worst[j].0.min(pct(t.found, t.frames));
            worst[j].1 = worst[j].1.min(pct(t.correct, t.frames));
        }
        println!();
    }
    // The bed with nobody in it: what the search costs when it finds nothing, and whether it
    // makes up a patient.
    // As many frames as a condition, in clips of 40: a bed stays empty for a while.
    let empty = empty_shots((clips * per_clip).div_ceil(EMPTY_CLIP), EMPTY_CLIP);
    for (name, pipe) in pipes.iter_mut() {
        let t = measure(pipe, "empty", &empty, EMPTY_CLIP);
        println!(
            "{:<30} {:<9} {:>7} {:>10} {:>9} {:>7} {:>8.2} {:>6.2}",
            name,
            "empty bed",
            "-",
            "-",
            "-",
            t.false_faces,
            1000.0 * t.secs / t.frames.max(1) as f64,
            t.views as f64 / t.frames.max(1) as f64
        );
    }
    println!();
    for (j, (name, _)) in pipes.iter().enumerate() {
        let t = totals[j];
        println!(
            "{name}: worst condition {:.1}% found, {:.1}% accuracy over all frames; all conditions \
             {:.1} frames/s on one thread ({} false faces)",
            worst[j].0,
            worst[j].1,
            t.frames as f64 / t.secs.max(1e-9),
            t.false_faces
        );
    }
}

fn make(val: &Path, out: &Path, clips: usize, per_clip: usize) {
    let val = load_val(val);
    std::fs::create_dir_all(out).expect("output folder");
    let mut truth = String::from("file,condition,clip,frame,class,cx,cy,side,roll_deg\n");
    for (k, c) in CONDITIONS.iter().enumerate() {
        for (i, s) in shots(&val, k, clips, per_clip).iter().enumerate() {
            let file = format!(
                "{}-{:03}-{:02}.png",
                c.name.replace(' ', ""),
                s.clip,
                i % per_clip
            );
            s.frame
                .as_image()
                .save(out.join(&file))
                .expect("write frame");
            truth.push_str(&format!(
                "{file},{},{},{},{},{:.1},{:.1},{:.1},{:.1}\n",
                c.name,
                s.clip,
                i % per_clip,
                CLASSES[s.class],
                s.pose.cx,
                s.pose.cy,
                s.pose.side,
                s.pose.roll_deg
            ));
        }
    }
    std::fs::write(out.join("truth.csv"), truth).expect("write truth.csv");
    println!(
        "wrote {} frames and truth.csv to {}",
        CONDITIONS.len() * clips * per_clip,
        out.display()
    );
}

/// The probes' bed: its area, the scene without a face, and the first `faces` val faces (the
/// classes in turn).
fn pillow_scene(val: &Path, faces: usize) -> (Roi, Vec<f32>, Vec<image::GrayImage>) {
    let val = load_val(val);
    let (x, y, width, height) = scene::BED;
    let roi = Roi {
        x,
        y,
        width,
        height,
    };
    let images = (0..faces)
        .map(|n| {
            let list = &val[n % 4];
            image::open(&list[(n / 4 * 7) % list.len()])
                .expect("readable face")
                .to_luma8()
        })
        .collect();
    (roi, scene::bed(7), images)
}

/// `bedside_bench pillow`: per finder, of three-frame clips of small faces on the pillow's top
/// edge, those in which the pillow (a face over twice the laid side) was reported, the face
/// (within 25 px of its place), something else, or nothing; and of clips of large faces, those
/// found as large.
fn pillow(val: &Path, faces: usize) {
    let (roi, background, images) = pillow_scene(val, faces);
    let laid = |n: usize, pose: &Pose| {
        scene::compose(&background, &images[n], pose, &mut Rng::new(n as u64))
    };
    let clip = |finder: &FaceFinder, n: usize, pose: &Pose| -> Vec<Face> {
        let frame = laid(n, pose);
        let mut track = Track::default();
        (0..3)
            .filter_map(|_| finder.find(&frame, Some(&roi), &mut track).expect("finder"))
            .collect()
    };
    // The detector's box for the face laid at `pose`, as the finder's tiles see it by default
    // (400 frame px at 256 detector px: five times `min_face` a 128-px stretch), if it sees one
    // there scored at least 0.2.
    let tile_net = areya_vision::blazeface::BlazeFace::embedded()
        .and_then(|n| n.at(256))
        .expect("detector");
    let tile_box = |n: usize, pose: &Pose| -> Option<f32> {
        let view = View {
            cx: 280.0,
            cy: 240.0,
            side: 400.0,
            angle: 0.0,
        };
        let px = detector_input(&view.sample(&laid(n, pose), 256));
        let seen = tile_net.detect_above(&px, 0.2).expect("detector");
        seen.iter()
            .filter(|d| {
                let (fx, fy) = view.to_frame(d.cx, d.cy, 256);
                (fx - pose.cx).abs() < 20.0 && (fy - pose.cy).abs() < 20.0
            })
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .map(|d| (d.w + d.h) / 2.0 * 400.0 / 256.0)
    };
    let lights = [(1.0, 0.0), (0.5, 4.0), (0.25, 4.0)];
    let sides = [45.0, 55.0, 65.0];
    // The small faces' clips — (face, pose, size index, light index, the detector's box) —
    // the same for every finder.
    let mut small_clips = vec![];
    for n in 0..faces {
        for (cx, cy) in [
            (320.0, 110.0),
            (250.0, 110.0),
            (390.0, 110.0),
            (320.0, 130.0),
        ] {
            for (z, side) in sides.into_iter().enumerate() {
                for (l, &(light, noise)) in lights.iter().enumerate() {
                    let pose = Pose::upright(cx, cy, side).lit(light, noise);
                    small_clips.push((n, pose, z, l, tile_box(n, &pose)));
                }
            }
        }
    }
    // Per face size: the median of the detector's boxes.
    let medians: Vec<f32> = (0..sides.len())
        .map(|z| {
            let mut b: Vec<f32> = small_clips
                .iter()
                .filter(|c| c.2 == z)
                .filter_map(|c| c.4)
                .collect();
            b.sort_by(f32::total_cmp);
            b.get(b.len() / 2).copied().unwrap_or(0.0)
        })
        .collect();
    let default_min = FinderConfig::default().min_face as f32;
    println!("Pillow probe: {faces} FER-2013 val faces, three-frame clips, the finder alone");
    let finders = [
        ("second look (default)", true, default_min as u32),
        ("without it", false, default_min as u32),
        ("min_face 30", true, 30),
    ];
    for (name, look_inside, min_face) in finders {
        let cfg = FinderConfig {
            look_inside,
            min_face,
            ..FinderConfig::default()
        };
        let finder = FaceFinder::new(
            areya_vision::blazeface::BlazeFace::embedded().expect("detector"),
            cfg,
        )
        .expect("finder");
        // Pillow reported, face, elsewhere, nothing: per light and per face size (over all
        // lights); per face size, the clips without the face whose box is under the default
        // `min_face` (or not seen at all).
        let (mut small, mut sized, mut under) = ([[0usize; 4]; 3], [[0usize; 4]; 3], [0usize; 3]);
        for (n, pose, z, l, tile_box) in &small_clips {
            let seen = clip(&finder, *n, pose);
            let at = |f: &Face| (f.cx - pose.cx).abs() < 25.0 && (f.cy - pose.cy).abs() < 25.0;
            let pillow = seen.iter().any(|f| f.side > 2.0 * pose.side);
            let found = seen.iter().any(|f| at(f) && f.side < 1.6 * pose.side);
            let kind = match (pillow, found, seen.is_empty()) {
                (true, _, _) => 0,
                (false, true, _) => 1,
                (false, false, false) => 2,
                (false, false, true) => 3,
            };
            small[*l][kind] += 1;
            sized[*z][kind] += 1;
            under[*z] += usize::from(kind != 1 && tile_box.is_none_or(|b| b < default_min));
        }
        let mut large = [0usize; 2];
        for n in 0..faces {
            for side in [180.0, 220.0] {
                for (light, noise) in lights {
                    let pose = Pose::upright(320.0, 260.0, side).lit(light, noise);
                    let seen = clip(&finder, n, &pose);
                    large[usize::from(!seen.iter().any(|f| f.side > 0.5 * side))] += 1;
                    if std::env::var_os("BEDSIDE_MISSES").is_some()
                        && !seen.iter().any(|f| f.side > 0.5 * side)
                    {
                        eprintln!("{name}: large face {n} ({side} px, light {light}): {seen:?}");
                    }
                }
            }
        }
        let total = |k: usize| small.iter().map(|s| s[k]).sum::<usize>();
        println!(
            "{name:<22} small faces on the pillow's edge ({} clips): pillow reported {}, face {}, \
             elsewhere {}, nothing {}; large faces ({} clips): found large {}",
            small.iter().flatten().sum::<usize>(),
            total(0),
            total(1),
            total(2),
            total(3),
            large.iter().sum::<usize>(),
            large[0]
        );
        for (s, (light, _)) in small.iter().zip(lights) {
            println!(
                "{:<22}   at light {light:.2}: pillow {}, face {}, elsewhere {}, nothing {}",
                "", s[0], s[1], s[2], s[3]
            );
        }
        for (z, s) in sized.iter().enumerate() {
            println!(
                "{:<22}   faces {} px across: pillow {}, face {}, elsewhere {}, nothing {}; \
                 the detector's box at the default tiles' scale {:.0} px (median), under \
                 {default_min} px (or unseen) in {} of the {} clips without the face",
                "",
                sides[z],
                s[0],
                s[1],
                s[2],
                s[3],
                medians[z],
                under[z],
                s[0] + s[2] + s[3]
            );
        }
    }
}

/// `bedside_bench far`: the finder alone, per finder, on a far camera's view: small faces
/// (45 and 55 px laid across; the detector's box about 40 px and under) lying still on the
/// pillow for `frames` frames each (fresh sensor noise a frame; at 2 frames/s, 60 frames are
/// half a minute), by day and dim — the clips in which the face was found at all, when it was
/// first found, the share of the last half of the frames in which it was reported, and faces
/// reported anywhere else; then the bed with nobody in it (four times as many clips as faces,
/// as long, by day and at night): false faces, and the cameras that took themselves for far
/// ones.
fn far(val: &Path, faces: usize, frames: usize) {
    let (roi, background, images) = pillow_scene(val, faces);
    let d = FinderConfig::default;
    let finders = [
        ("areya bedside (default)", d()),
        (
            "without the far search",
            FinderConfig { far_face: 0, ..d() },
        ),
        (
            "min_face 30 set by hand",
            FinderConfig {
                min_face: 30,
                ..d()
            },
        ),
    ];
    let show_misses = std::env::var_os("BEDSIDE_MISSES").is_some();
    // The empty bed is where a search for smaller faces could make one up: more of it.
    let empty_clips = 4 * faces;
    println!(
        "Far camera: {faces} FER-2013 val faces lying still on the pillow, clips of {frames} \
         frames (fresh noise a frame), the finder alone"
    );
    // BEDSIDE_ONLY="areya bedside (default)": only the finders so named.
    for (name, cfg) in finders.into_iter().filter(|(name, _)| chosen(name)) {
        let finder = FaceFinder::new(
            areya_vision::blazeface::BlazeFace::embedded().expect("detector"),
            cfg,
        )
        .expect("finder");
        let started = Instant::now();
        let views0 = finder.views();
        // Per face size: clips, clips found, first frames found, late frames found / late
        // frames, frames with a face elsewhere.
        let mut rows = vec![];
        for side in [45.0f32, 55.0] {
            let (mut clips, mut found, mut first, mut late, mut late_all, mut elsewhere) =
                (0, 0, vec![], 0, 0, 0);
            for n in 0..faces {
                for (k, (cx, cy)) in [(320.0, 110.0), (250.0, 130.0), (390.0, 200.0)]
                    .into_iter()
                    .enumerate()
                {
                    let (light, noise) = [(1.0f32, 1.0f32), (0.5, 4.0)][(n + k) % 2];
                    let pose = Pose::upright(cx, cy, side).lit(light, noise);
                    let mut rng = Rng::new((n * 3 + k) as u64);
                    let mut track = Track::default();
                    let mut seen_at = None;
                    clips += 1;
                    for f in 0..frames {
                        let frame = scene::compose(&background, &images[n], &pose, &mut rng);
                        let face = finder.find(&frame, Some(&roi), &mut track).expect("finder");
                        let at = face.is_some_and(|g| {
                            (g.cx - cx).abs() < 25.0
                                && (g.cy - cy).abs() < 25.0
                                && g.side < 1.6 * side
                        });
                        elsewhere += usize::from(face.is_some() && !at);
                        if let (Some(g), false, true) = (face, at, show_misses) {
                            eprintln!(
                                "{name}: face {n} ({side} px at {cx},{cy}) frame {f}: reported \
                                 {:.0} px at {:.0},{:.0} scored {:.2}",
                                g.side, g.cx, g.cy, g.score
                            );
                        }
                        if at && seen_at.is_none() {
                            seen_at = Some(f);
                        }
                        if f >= frames / 2 {
                            late_all += 1;
                            late += usize::from(at);
                        }
                    }
                    if let Some(f) = seen_at {
                        found += 1;
                        first.push(f);
                    }
                }
            }
            first.sort_unstable();
            let median = first
                .get(first.len() / 2)
                .map_or("-".to_string(), |f| f.to_string());
            rows.push(format!(
                "{:<24}   faces {side} px: found in {found} of {clips} clips (first at frame {median} \
                 median), reported in {:.1}% of the last half's frames, elsewhere in {elsewhere} frames",
                "",
                100.0 * late as f64 / late_all.max(1) as f64
            ));
        }
        let views = finder.views() - views0;
        let mut empty_false = 0;
        let mut went_far = 0;
        for clip in 0..empty_clips {
            let mut track = Track::default();
            for shot in empty_clip(clip, frames) {
                empty_false += usize::from(
                    finder
                        .find(&shot.frame, Some(&roi), &mut track)
                        .expect("finder")
                        .is_some(),
                );
            }
            went_far += usize::from(track.far());
        }
        println!(
            "{name:<24} {:.1} ms and {:.2} views a frame with a face; empty bed ({empty_clips} clips): \
             {empty_false} false faces, {went_far} cameras took themselves for far ones",
            1000.0 * started.elapsed().as_secs_f64() / (2 * faces * 3 * frames + empty_clips * frames) as f64,
            views as f64 / (2 * faces * 3 * frames) as f64
        );
        for r in rows {
            println!("{r}");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    match args.first().map(String::as_str) {
        Some("run") if args.len() >= 3 => run(
            Path::new(&args[1]),
            Path::new(&args[2]),
            num(3, 20),
            num(4, 8),
        ),
        Some("make") if args.len() >= 3 => make(
            Path::new(&args[1]),
            Path::new(&args[2]),
            num(3, 20),
            num(4, 8),
        ),
        Some("pillow") if args.len() >= 2 => pillow(Path::new(&args[1]), num(2, 24)),
        Some("far") if args.len() >= 2 => far(Path::new(&args[1]), num(2, 12), num(3, 60)),
        _ => eprintln!(
            "usage: bedside_bench run FER_VAL_DIR MODEL_DIR [CLIPS] [FRAMES] | \
             make FER_VAL_DIR OUT_DIR [CLIPS] [FRAMES] | pillow FER_VAL_DIR [FACES] | \
             far FER_VAL_DIR [FACES] [FRAMES]   \
             (BEDSIDE_ABLATION=1: each part taken away; BEDSIDE_FIT=1: how the faces found sit \
             on the truth, and what each costs)"
        ),
    }
}
