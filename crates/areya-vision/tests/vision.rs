//! Integration tests of the vision pipeline on frames made here: faces cut from the photo that
//! ships inside the rustface crate, pasted at known places on a background; short videos
//! encoded with ffmpeg and read back frame-exactly; and every bad input.

use areya_core::{FaceBox, FaceCrop, PatientId, SourceId};
use areya_vision::crop::{face_in_frame, fit_crop};
use areya_vision::detect::{DetectConfig, FaceDetector};
use areya_vision::pipeline::{FrameMeta, Locator, Pipeline};
use areya_vision::roi::Roi;
use areya_vision::source::{Ffmpeg, FrameSource, ImageFiles};
use areya_vision::GrayFrame;
use std::path::{Path, PathBuf};

fn group_photo() -> GrayFrame {
    let path = Path::new(env!("AREYA_RUSTFACE_DIR")).join("test.png");
    GrayFrame::from_image(&image::open(path).unwrap()).unwrap()
}

/// SeetaFace's upright cascade, as the pipeline ran before BlazeFace.
fn frontal() -> Locator {
    Locator::frontal(DetectConfig::default()).unwrap()
}

/// The default bedside detector.
fn bedside() -> Locator {
    Locator::bedside(Default::default(), None).unwrap()
}

fn full_res() -> DetectConfig {
    DetectConfig {
        min_face: 20,
        max_width: 2000,
        ..DetectConfig::default()
    }
}

/// Faces of the group photo, found once at full resolution.
fn photo_faces() -> (GrayFrame, Vec<FaceBox>) {
    let photo = group_photo();
    let faces = FaceDetector::new(full_res()).unwrap().detect(&photo);
    (photo, faces)
}

/// A 640×480 frame with the given faces (cut from the photo with a margin, scaled to `px`)
/// pasted with their top-left corners at `places`; returns the frame and the true boxes.
fn frame_with_faces(
    photo: &GrayFrame,
    faces: &[FaceBox],
    places: &[(u32, u32)],
    px: u32,
) -> (GrayFrame, Vec<FaceBox>) {
    let mut canvas = image::GrayImage::from_fn(640, 480, |x, y| {
        image::Luma([(90 + (x / 40 + y / 40) % 2 * 30) as u8])
    });
    let src = photo.as_image();
    let mut truth = Vec::new();
    for (f, &(px0, py0)) in faces.iter().zip(places) {
        // Cut with 60% margin so the detector sees some head and shoulders.
        let m = f.width as i32 * 6 / 10;
        let (x, y) = ((f.x - m).max(0) as u32, (f.y - m).max(0) as u32);
        let side = f.width + 2 * m as u32;
        let cut = image::imageops::crop_imm(&src, x, y, side, side).to_image();
        let scaled = image::imageops::resize(&cut, px, px, image::imageops::FilterType::Triangle);
        image::imageops::replace(&mut canvas, &scaled, px0 as i64, py0 as i64);
        let k = px as f32 / side as f32;
        truth.push(FaceBox {
            x: px0 as i32 + ((f.x - x as i32) as f32 * k) as i32,
            y: py0 as i32 + ((f.y - y as i32) as f32 * k) as i32,
            width: (f.width as f32 * k) as u32,
            height: (f.height as f32 * k) as u32,
            score: 1.0,
        });
    }
    (GrayFrame::new(640, 480, canvas.into_raw()).unwrap(), truth)
}

#[test]
fn finds_the_faces_of_the_group_photo() {
    let (_, faces) = photo_faces();
    // The photo shows 29 people; SeetaFace finds nearly all at full resolution.
    assert!(
        faces.len() >= 24 && faces.len() <= 32,
        "{} faces",
        faces.len()
    );
}

#[test]
fn detection_recall_and_iou_on_pasted_faces_with_the_default_downscale() {
    let (photo, faces) = photo_faces();
    let places = [(40, 60), (260, 200), (470, 80)];
    let (frame, truth) = frame_with_faces(&photo, &faces[..3], &places, 150);
    let found = FaceDetector::new(DetectConfig::default())
        .unwrap()
        .detect(&frame);
    let matched = truth
        .iter()
        .filter(|t| found.iter().any(|f| f.iou(t) >= 0.4))
        .count();
    assert!(
        matched >= 2,
        "recall {matched}/3; truth {truth:?}; found {found:?}"
    );
    assert!(found.len() <= 4, "false positives: {found:?}");
}

/// A tiny model with Areya's classes, trained here.
fn tiny_model(dir: &Path) -> areya_ml::Classifier {
    areya_ml::testdata::write_dataset(dir, 8).unwrap();
    let mut cfg = areya_ml::TrainConfig::new(dir.to_path_buf()).unwrap();
    cfg.architecture = areya_ml::testdata::tiny_cnn(&[8], 0.0);
    cfg.epochs = 1;
    cfg.threads = 2;
    let out = dir.join("run");
    areya_ml::train::train(cfg, &out, areya_ml::train::TrainOptions { quiet: true }).unwrap();
    areya_ml::Classifier::load(&out).unwrap()
}

fn meta(i: u64, roi: Option<Roi>) -> FrameMeta {
    FrameMeta {
        source: SourceId::parse("cam-1").unwrap(),
        patient: PatientId::parse("bed-1").unwrap(),
        at_ms: 1000 * i as i64,
        frame: i,
        roi,
    }
}

#[test]
fn pipeline_classifies_only_the_patient_in_the_bed_area() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_model(tmp.path());
    let (photo, faces) = photo_faces();
    for locator in [bedside(), frontal()] {
        let kind = locator.kind();
        let clf = areya_ml::Classifier::load(&tmp.path().join("run")).unwrap();
        let mut pipe = Pipeline::new(clf, locator).unwrap();
        // Patient (large) in the bed area on the left; a visitor on the right.
        let (frame, truth) = frame_with_faces(&photo, &faces[..2], &[(60, 150), (430, 150)], 170);
        let bed = Roi {
            x: 0,
            y: 0,
            width: 320,
            height: 480,
        };
        let empty = GrayFrame::new(640, 480, vec![100; 640 * 480]).unwrap();
        let outside_only = Roi {
            x: 600,
            y: 0,
            width: 40,
            height: 40,
        };
        let obs = pipe
            .observe(&[
                (frame.clone(), meta(0, Some(bed))),
                (empty, meta(1, None)),
                (frame, meta(2, Some(outside_only))),
            ])
            .unwrap();
        assert_eq!(obs.len(), 3);
        let seen = obs[0].face.expect("the patient's face");
        let face = seen.bbox;
        assert!(
            face.iou(&truth[0]) > 0.3,
            "{kind}: {face:?} vs {:?}",
            truth[0]
        );
        let p = seen.probs;
        assert!((p.to_array().iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(seen.quality.unwrap().face_px > 50);
        assert_eq!(obs[1].face, None, "no face → a no-face observation");
        assert_eq!(
            obs[2].face, None,
            "faces outside the bed area are never classified"
        );
        assert_eq!(obs[0].patient.as_str(), "bed-1");
    }
}

/// Records what the watcher hands its sink.
#[derive(Default)]
struct Recorder {
    /// (patient, frame number, face seen) per observed frame.
    seen: Vec<(String, u64, bool)>,
    batches: Vec<usize>,
    errors: Vec<(usize, String)>,
}

impl areya_vision::watch::WatchSink for Recorder {
    fn observed(
        &mut self,
        frames: &[(GrayFrame, FrameMeta)],
        seen: Vec<areya_vision::pipeline::Seen>,
    ) -> std::io::Result<()> {
        assert_eq!(frames.len(), seen.len());
        self.batches.push(seen.len());
        for s in seen {
            let o = s.observation;
            self.seen
                .push((o.patient.to_string(), o.frame, o.face.is_some()));
        }
        Ok(())
    }
    fn source_error(&mut self, bed: usize, e: &areya_vision::VisionError) -> std::io::Result<()> {
        self.errors.push((bed, e.to_string()));
        Ok(())
    }
    fn model_health(&mut self, _: usize, _: Option<&str>) {}
}

#[test]
fn the_watcher_reads_every_bed_batches_across_beds_and_reports_bad_frames() {
    use areya_vision::watch::{open_source, watch, Bed, OnModelError, OpenOptions};
    let tmp = tempfile::tempdir().unwrap();
    let clf = tiny_model(tmp.path());
    let mut pipe = Pipeline::new(clf, bedside()).unwrap();
    let (photo, faces) = photo_faces();
    let (frame, _) = frame_with_faces(&photo, &faces[..1], &[(200, 150)], 170);
    let mut beds = Vec::new();
    for (b, n) in [("bed-a", 5), ("bed-b", 3)] {
        let dir = tmp.path().join(b);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..n {
            let img = image::GrayImage::from_raw(frame.width, frame.height, frame.pixels.clone())
                .unwrap();
            img.save(dir.join(format!("{i:03}.png"))).unwrap();
        }
        beds.push(Bed {
            patient: PatientId::parse(b).unwrap(),
            source: SourceId::parse(&format!("cam-{b}")).unwrap(),
            roi: None,
            inputs: vec![dir.display().to_string()],
        });
    }
    std::fs::write(tmp.path().join("bed-b").join("001x.png"), b"not a png").unwrap();
    let open = OpenOptions {
        fps: 2.0,
        width: 640,
        height: 480,
        retry: Default::default(),
        as_camera: false,
    };
    let sources = beds
        .iter()
        .map(|b| open_source(&b.inputs, open).unwrap())
        .collect();
    let mut rec = Recorder::default();
    let summary = watch(&mut pipe, &beds, sources, 4, OnModelError::Stop, &mut rec).unwrap();
    assert_eq!((summary.frames, summary.unreadable), (8, 1), "{summary:?}");
    assert_eq!(
        summary.faces,
        rec.seen.iter().filter(|s| s.2).count() as u64
    );
    assert!(
        summary.faces >= 6,
        "the face is found on most frames: {summary:?}"
    );
    for (b, n) in [("bed-a", 5), ("bed-b", 3)] {
        let mine: Vec<u64> = rec.seen.iter().filter(|s| s.0 == b).map(|s| s.1).collect();
        assert_eq!(mine.len(), n, "{b}: {mine:?}");
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "{b} in order: {mine:?}"
        );
    }
    assert!(
        rec.batches.iter().all(|&n| (1..=4).contains(&n)),
        "{:?}",
        rec.batches
    );
    assert_eq!(rec.errors.len(), 1, "{:?}", rec.errors);
    assert_eq!(rec.errors[0].0, 1, "the bad file is bed-b's");
    let bad = open_source(
        &["rtsp://camera.invalid/1".into()],
        OpenOptions { fps: 500.0, ..open },
    );
    assert!(
        bad.err().is_some_and(|e| e.to_string().starts_with("fps")),
        "a live source's bad setting is refused at once, not retried"
    );
}

#[test]
fn a_model_without_areyas_classes_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    areya_ml::testdata::write_dataset(tmp.path(), 4).unwrap();
    let mut cfg = areya_ml::TrainConfig::new(tmp.path().to_path_buf()).unwrap();
    cfg.data.classes = areya_ml::ClassMap::parse("angry,fear").unwrap();
    cfg.architecture = areya_ml::testdata::tiny_cnn(&[4], 0.0);
    cfg.epochs = 1;
    areya_ml::train::train(
        cfg,
        &tmp.path().join("r"),
        areya_ml::train::TrainOptions { quiet: true },
    )
    .unwrap();
    let clf = areya_ml::Classifier::load(&tmp.path().join("r")).unwrap();
    let err = Pipeline::new(clf, frontal()).err().unwrap().to_string();
    assert!(err.contains("not Areya's four emotions"), "{err}");
}

#[test]
fn bad_detector_settings_are_refused_before_rustface_can_panic() {
    // Each named by its setting (the CLI names the flag that set it).
    for (cfg, flag) in [
        (
            DetectConfig {
                min_face: 10,
                ..Default::default()
            },
            "min_face",
        ),
        (
            DetectConfig {
                pyramid_scale: 1.5,
                ..Default::default()
            },
            "pyramid_scale",
        ),
        (
            DetectConfig {
                step: 0,
                ..Default::default()
            },
            "step",
        ),
    ] {
        assert!(FaceDetector::new(cfg)
            .err()
            .unwrap()
            .to_string()
            .starts_with(flag));
    }
    // The bedside finder's settings, each changed alone from the default. Keeping a face may
    // not ask more than finding one; a tile's view is a network plan of its own, so a size the
    // network cannot take, or one costing more than the frame, is refused before any frame.
    type Change = fn(&mut FinderConfig);
    let changes: [(Change, &str); 7] = [
        (|c| c.keep_threshold = 0.7, "keep_threshold"),
        (|c| c.threshold = 1.0, "threshold"),
        (|c| c.keep_size = 0.0, "keep_size"),
        (|c| c.rest_every = 0, "rest_every"),
        (|c| c.keep_size = 1.5, "keep_size"),
        (|c| c.tile_view = 200, "tile_view"),
        (|c| c.tile_view = 1024, "tile_view"),
    ];
    for (change, setting) in changes {
        let mut cfg = FinderConfig::default();
        change(&mut cfg);
        let err = FaceFinder::new(BlazeFace::embedded().unwrap(), cfg)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(setting), "{err}");
    }
    // Frames smaller than a detection window are simply empty.
    let tiny = GrayFrame::new(10, 10, vec![0; 100]).unwrap();
    assert!(FaceDetector::new(DetectConfig::default())
        .unwrap()
        .detect(&tiny)
        .is_empty());
    assert!(GrayFrame::new(0, 10, vec![]).is_err());
}

#[test]
fn image_sources_report_bad_files_and_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    image::GrayImage::from_pixel(64, 48, image::Luma([7]))
        .save(tmp.path().join("a.png"))
        .unwrap();
    std::fs::write(tmp.path().join("b.jpg"), b"not a jpeg").unwrap();
    image::RgbImage::from_pixel(30, 20, image::Rgb([200, 10, 10]))
        .save(tmp.path().join("c.bmp"))
        .unwrap();
    let mut src = ImageFiles::new(&[tmp.path().to_path_buf()]).unwrap();
    let a = src.next_frame().unwrap().unwrap();
    assert_eq!((a.frame.width, a.frame.height, a.index), (64, 48, 0));
    let b = src.next_frame().unwrap().err().unwrap().to_string();
    assert!(
        b.contains("b.jpg") && b.contains("not a readable image"),
        "{b}"
    );
    assert_eq!(src.next_frame().unwrap().unwrap().frame.width, 30);
    assert!(src.next_frame().is_none());
    assert!(ImageFiles::new(&[PathBuf::from("/no/such")])
        .err()
        .unwrap()
        .to_string()
        .contains("/no/such"));
}

fn have_ffmpeg() -> bool {
    std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn ffmpeg_reads_an_encoded_video_back_frame_exactly_and_reports_bad_ones() {
    if !have_ffmpeg() {
        eprintln!("ffmpeg not installed (scripts/setup installs it): skipping");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Ten frames of distinct gray levels, encoded losslessly at 5 fps.
    for i in 0..10u8 {
        image::GrayImage::from_pixel(160, 120, image::Luma([20 + 20 * i]))
            .save(tmp.path().join(format!("f{i:02}.png")))
            .unwrap();
    }
    let video = tmp.path().join("clip.mkv");
    let st = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-framerate", "5", "-i"])
        .arg(tmp.path().join("f%02d.png"))
        .args(["-c:v", "ffv1", "-pix_fmt", "gray"])
        .arg(&video)
        .status()
        .unwrap();
    assert!(st.success());
    let mut src = Ffmpeg::open(video.to_str().unwrap(), 5.0, 160, 120).unwrap();
    let mut levels = Vec::new();
    let mut times = Vec::new();
    while let Some(f) = src.next_frame() {
        let f = f.unwrap();
        levels.push(f.frame.pixels[160 * 60 + 80]);
        times.push(f.at_ms);
    }
    assert_eq!(levels, (0..10u8).map(|i| 20 + 20 * i).collect::<Vec<_>>());
    assert!(times.windows(2).all(|w| w[1] - w[0] == 200), "{times:?}");
    // Played as a camera (for a server, which refuses times far from its clock): every frame
    // is stamped with the wall clock when it is read, never ahead of it.
    let mut cam = Ffmpeg::open_as_camera(video.to_str().unwrap(), 5.0, 160, 120).unwrap();
    let mut n = 0;
    while let Some(f) = cam.next_frame() {
        let f = f.unwrap();
        let now = areya_vision::source::now_ms();
        assert!(
            f.at_ms <= now && now - f.at_ms < 1000,
            "frame {n}: {} vs {now}",
            f.at_ms
        );
        n += 1;
    }
    assert_eq!(n, 10);

    // A corrupt video: a clear message, not a panic.
    let bad = tmp.path().join("bad.mp4");
    std::fs::write(&bad, vec![0x42; 5000]).unwrap();
    let mut src = Ffmpeg::open(bad.to_str().unwrap(), 5.0, 160, 120).unwrap();
    let err = src.next_frame().unwrap().err().unwrap().to_string();
    assert!(err.contains("bad.mp4") && err.contains("ffmpeg"), "{err}");
    // A source that dies mid-stream: a truncated file ends with an error or early, never a hang.
    let bytes = std::fs::read(&video).unwrap();
    let cut = tmp.path().join("cut.mkv");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let mut src = Ffmpeg::open(cut.to_str().unwrap(), 5.0, 160, 120).unwrap();
    let mut n = 0;
    while let Some(f) = src.next_frame() {
        if f.is_err() {
            break;
        }
        n += 1;
    }
    assert!(n < 10, "a truncated video yields fewer frames ({n})");
    assert!(Ffmpeg::open("/no/such.mp4", 5.0, 160, 120)
        .err()
        .unwrap()
        .to_string()
        .contains("no such file"));
    assert!(Ffmpeg::open(video.to_str().unwrap(), 0.0, 160, 120)
        .err()
        .unwrap()
        .to_string()
        .starts_with("fps"));
}

/// Faces of the group photo cut as `crop` frames them around the detector's box, 48×48: a
/// "training set" whose framing is known.
fn framed_faces(crop: &FaceCrop) -> Vec<image::GrayImage> {
    let (photo, faces) = photo_faces();
    let src = photo.as_image();
    faces
        .iter()
        .map(|f| {
            let (x, y, side) = crop.square(f);
            let cut = image::imageops::crop_imm(
                &src,
                x.max(0) as u32,
                y.max(0) as u32,
                side as u32,
                side as u32,
            )
            .to_image();
            image::imageops::resize(&cut, 48, 48, image::imageops::FilterType::Triangle)
        })
        .collect()
}

#[test]
fn fit_crop_recovers_how_training_faces_were_framed() {
    let (_, faces) = photo_faces();
    let mut det = frontal();
    // (how the faces were cut, tolerance on scale / on dx and dy)
    let cases = [
        (FaceCrop::new(1.6, 0.0, 0.1).unwrap(), 0.16, 0.06),
        (FaceCrop::new(1.2, -0.08, 0.0).unwrap(), 0.12, 0.06),
    ];
    for (truth, ts, td) in cases {
        let images = framed_faces(&truth);
        // Each face three times (at other sizes and places), as many images as a small set.
        let fit = fit_crop(
            images.iter().cycle().take(3 * faces.len()).cloned(),
            &mut det,
        )
        .unwrap();
        let c = fit.crop;
        assert!(
            (c.scale - truth.scale).abs() < ts
                && (c.dx - truth.dx).abs() < td
                && (c.dy - truth.dy).abs() < td,
            "cut as {truth:?}, measured {fit:?}"
        );
        assert!(fit.found * 10 >= fit.images * 7, "{fit:?}");
    }
    // Images without faces: one clear error naming what was found.
    let blank = (0..40).map(|i| image::GrayImage::from_pixel(48, 48, image::Luma([i as u8 * 5])));
    let err = fit_crop(blank, &mut det).unwrap_err().to_string();
    assert!(
        err.contains("found a face in 0 of 40 training images"),
        "{err}"
    );
}

#[test]
fn the_pipeline_crops_as_the_model_says_and_refuses_a_bad_crop() {
    let tmp = tempfile::tempdir().unwrap();
    let clf = tiny_model(tmp.path());
    let run = tmp.path().join("run");
    let pipe = Pipeline::new(clf, frontal()).unwrap();
    assert_eq!(
        pipe.crop,
        FaceCrop::margin(areya_vision::pipeline::DEFAULT_MARGIN)
    );
    let mut cfg = areya_ml::rundir::read_config(&run).unwrap();
    cfg.preprocessing.face_crop = Some(FaceCrop::new(1.1, 0.02, -0.03).unwrap());
    areya_ml::rundir::write_config(&run, &cfg).unwrap();
    let pipe = Pipeline::new(areya_ml::Classifier::load(&run).unwrap(), frontal()).unwrap();
    assert_eq!(pipe.crop, FaceCrop::new(1.1, 0.02, -0.03).unwrap());
    // A hand-edited config.json with a crop no detector produces.
    let text = std::fs::read_to_string(run.join("config.json")).unwrap();
    std::fs::write(run.join("config.json"), text.replace("1.1", "9.5")).unwrap();
    let err = Pipeline::new(areya_ml::Classifier::load(&run).unwrap(), frontal())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(
            "config.json: preprocessing.face_crop: face crop: scale 9.5 is not in [0.5, 4]"
        ),
        "{err}"
    );
}

/// On FER-2013 (when `AREYA_FER2013` points at it): the crop measured on train images frames
/// val faces seen through the whole pipeline (pasted into frames, detected, cropped, classified
/// by the shipped small model) better than a loose crop does.
#[test]
fn on_fer2013_the_fitted_crop_classifies_better_than_a_loose_one() {
    let Some(root) = std::env::var_os("AREYA_FER2013").map(PathBuf::from) else {
        eprintln!("AREYA_FER2013 not set: skipping the real-data test");
        return;
    };
    let classes = ["angry", "happy", "neutral", "sad"];
    let pick = |split: &str, per_class: usize, stride: usize| -> Vec<(image::GrayImage, usize)> {
        classes
            .iter()
            .enumerate()
            .flat_map(|(c, folder)| {
                let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(split).join(folder))
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                files.sort();
                files
                    .into_iter()
                    .step_by(stride)
                    .take(per_class)
                    .map(move |p| (image::open(p).unwrap().to_luma8(), c))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let mut det = bedside();
    let fit = fit_crop(pick("train", 75, 13).into_iter().map(|(i, _)| i), &mut det).unwrap();
    let c = fit.crop;
    assert!(
        (0.95..1.35).contains(&c.scale) && c.dx.abs() < 0.1 && (-0.2..0.05).contains(&c.dy),
        "FER-2013 faces fill their images, a little above BlazeFace's box centre: {fit:?}"
    );

    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/areya-fer4-small");
    let mut pipe = Pipeline::new(areya_ml::Classifier::load(&model).unwrap(), bedside()).unwrap();
    let val = pick("val", 100, 3);
    let frames: Vec<(GrayFrame, FrameMeta)> = val
        .iter()
        .enumerate()
        .map(|(i, (face, _))| {
            let at = (100 + (i * 37 % 300) as i64, 60 + (i * 53 % 200) as i64);
            (face_in_frame(face, 176, at, 100), meta(i as u64, None))
        })
        .collect();
    let mut correct = |crop: FaceCrop| -> usize {
        pipe.crop = crop;
        let obs = pipe.observe(&frames).unwrap();
        obs.iter()
            .zip(&val)
            .filter(|(o, (_, truth))| o.probs().is_some_and(|p| p.top().index() == *truth))
            .count()
    };
    let fitted = correct(c);
    let loose = correct(FaceCrop::margin(0.3));
    eprintln!(
        "of {} faces: fitted crop {fitted} right, margin 0.3 {loose}; {fit:?}",
        val.len()
    );
    assert!(
        fitted > loose + 12,
        "of {} faces: fitted crop {fitted} right, margin 0.3 {loose}",
        val.len()
    );
}

// ---- The bedside detector (BlazeFace with search, alignment and tracking) ----

use areya_vision::bedside::{Face, FaceFinder, FinderConfig, Track};
use areya_vision::blazeface::BlazeFace;
use areya_vision::crop::aligned_crop;
use areya_vision::scene::{self, Pose, Rng};

fn finder() -> FaceFinder {
    FaceFinder::new(BlazeFace::embedded().unwrap(), FinderConfig::default()).unwrap()
}

/// The default finder but for the search for far faces.
fn without_far_search() -> FaceFinder {
    let cfg = FinderConfig {
        far_face: 0,
        ..FinderConfig::default()
    };
    FaceFinder::new(BlazeFace::embedded().unwrap(), cfg).unwrap()
}

/// Face `i` of the group photo cut with 60% margin (head and some shoulders), as a face image
/// to lay on the pillow.
fn photo_face(i: usize) -> image::GrayImage {
    let (photo, faces) = photo_faces();
    cut_with_margin(&photo.as_image(), &faces[i])
}

/// The first `n` faces of the group photo, each cut as [`photo_face`] cuts one (the photo's
/// faces found once).
fn photo_face_images(n: usize) -> Vec<image::GrayImage> {
    let (photo, faces) = photo_faces();
    let photo = photo.as_image();
    faces[..n]
        .iter()
        .map(|f| cut_with_margin(&photo, f))
        .collect()
}

fn cut_with_margin(photo: &image::GrayImage, f: &FaceBox) -> image::GrayImage {
    let m = f.width as i32 * 6 / 10;
    let (x, y) = ((f.x - m).max(0) as u32, (f.y - m).max(0) as u32);
    let side = f.width + 2 * m as u32;
    image::imageops::crop_imm(photo, x, y, side, side).to_image()
}

fn on_pillow(face: &image::GrayImage, cx: f32, cy: f32, side: f32, roll_deg: f32) -> GrayFrame {
    let pose = Pose {
        roll_deg,
        ..Pose::upright(cx, cy, side)
    };
    scene::compose(&scene::bed(7), face, &pose, &mut Rng::new(1))
}

fn bed_roi() -> Roi {
    let (x, y, width, height) = scene::BED;
    Roi {
        x,
        y,
        width,
        height,
    }
}

fn correlation(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (
        a.iter().map(|&v| v as f64).sum::<f64>() / n,
        b.iter().map(|&v| v as f64).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt().max(1e-9)
}

#[test]
fn rotated_faces_are_found_and_their_aligned_crop_matches_the_upright_one() {
    let finder = finder();
    let crop = FaceCrop::margin(0.1);
    for i in [0, 5] {
        let face = photo_face(i);
        let find = |roll: f32| -> Face {
            let frame = on_pillow(&face, 320.0, 190.0, 210.0, roll);
            let f = finder
                .find(&frame, Some(&bed_roi()), &mut Track::default())
                .unwrap()
                .unwrap_or_else(|| panic!("face {i} at {roll}°: not found"));
            f
        };
        let upright = find(0.0);
        let frame0 = on_pillow(&face, 320.0, 190.0, 210.0, 0.0);
        let reference = aligned_crop(&frame0, &upright, &crop, 48);
        let mut total = 0.0;
        for step in -6..=6 {
            let roll = step as f32 * 15.0;
            let f = find(roll);
            let frame = on_pillow(&face, 320.0, 190.0, 210.0, roll);
            // Relative to the roll read upright: the face in the photo has a tilt of its own.
            let err = (f.roll.to_degrees() - upright.roll.to_degrees() - roll + 540.0)
                .rem_euclid(360.0)
                - 180.0;
            assert!(
                err.abs() < 12.0,
                "face {i} at {roll}°: roll read as {:.1}°",
                f.roll.to_degrees()
            );
            assert!(
                (f.cx - 320.0).abs() < 20.0 && (f.cy - 190.0).abs() < 20.0,
                "face {i} at {roll}°: centre {:.0},{:.0}",
                f.cx,
                f.cy
            );
            let r = correlation(&aligned_crop(&frame, &f, &crop, 48), &reference);
            let unaligned = correlation(
                &aligned_crop(&frame, &Face { roll: 0.0, ..f }, &crop, 48),
                &reference,
            );
            eprintln!("face {i} at {roll}°: roll {:.1}, centre {:.0},{:.0} side {:.0} (upright {:.0}), r {r:.3}, unaligned {unaligned:.3}", f.roll.to_degrees(), f.cx, f.cy, f.side, upright.side);
            assert!(
                r > 0.65,
                "face {i} at {roll}°: aligned crop correlates {r:.3} with the upright one"
            );
            if roll.abs() >= 45.0 {
                assert!(
                    r > unaligned + 0.3,
                    "face {i} at {roll}°: aligned {r:.3}, not turned {unaligned:.3}"
                );
            }
            total += r;
        }
        assert!(
            total / 13.0 > 0.8,
            "face {i}: mean correlation {:.3}",
            total / 13.0
        );
    }
}

#[test]
fn a_small_face_anywhere_in_the_bed_area_is_found_within_two_frames() {
    // A face whose box is just over the smallest a search takes (40 px: the photo face with its
    // margin at 100 px) is too small for the view of the whole bed area; the search's tiles
    // must reach it wherever it lies within two frames, not when their turn comes round later.
    // On the pillow's top edge the whole area's view reads the pillow, with the small face on
    // it, as one large face: a second look inside it must find the small one.
    let (finder, face, roi) = (finder(), photo_face(5), bed_roi());
    let places = [
        (150.0, 110.0),
        (320.0, 110.0),
        (490.0, 110.0),
        (150.0, 260.0),
        (320.0, 260.0),
        (490.0, 260.0),
        (150.0, 410.0),
        (320.0, 410.0),
        (490.0, 410.0),
    ];
    let mut late = vec![];
    for (cx, cy) in places {
        let frame = on_pillow(&face, cx, cy, 100.0, 0.0);
        let mut track = Track::default();
        let found = (0..2).find_map(|_| finder.find(&frame, Some(&roi), &mut track).unwrap());
        match found {
            Some(f) => assert!(
                (f.cx - cx).abs() < 20.0 && (f.cy - cy).abs() < 20.0 && f.side < 70.0,
                "the face at {cx},{cy} reported at {:.0},{:.0}, side {:.0}",
                f.cx,
                f.cy,
                f.side
            ),
            None => late.push((cx, cy)),
        }
    }
    assert!(late.is_empty(), "not found within two frames at {late:?}");
}

#[test]
fn a_pillow_around_a_dim_face_is_never_taken_for_the_face_and_a_large_face_is() {
    // A dim small face on the pillow's top edge: the whole area's view reads pillow and face as
    // one face of about 250 px. Before, unless the second look inside it saw the small face
    // surely, the search took the pillow and the track followed it: every reading of that
    // patient was of the pillow. Now a less sure small face inside replaces it, and with none
    // it is dropped unless the second look sees it again as itself; nothing is better than a
    // pillow.
    let (finder, roi, faces) = (finder(), bed_roi(), photo_face_images(4));
    let laid =
        |i: usize, pose: Pose| scene::compose(&scene::bed(7), &faces[i], &pose, &mut Rng::new(1));
    for (i, cx, cy, light) in [
        (0, 320.0, 110.0, 0.3),
        (2, 320.0, 110.0, 0.5),
        (3, 320.0, 130.0, 0.3),
        (1, 390.0, 110.0, 0.3),
    ] {
        let noise = if light < 0.4 { 6.0 } else { 4.0 };
        let frame = laid(i, Pose::upright(cx, cy, 80.0).lit(light, noise));
        let mut track = Track::default();
        for n in 0..3 {
            if let Some(f) = finder.find(&frame, Some(&roi), &mut track).unwrap() {
                assert!(
                    f.side < 80.0 && (f.cx - cx).abs() < 25.0 && (f.cy - cy).abs() < 25.0,
                    "face {i} at {cx},{cy}, light {light}, frame {n}: reported at {:.0},{:.0}, \
                     side {:.0}",
                    f.cx,
                    f.cy,
                    f.side
                );
            }
        }
    }
    // A patient's face as large (the camera close by; the cut photo face is about 2.2 times its
    // face box) is looked at again the same way, seen as itself, and kept.
    for i in [0, 1, 2, 3] {
        for side in [400.0, 480.0] {
            let frame = laid(i, Pose::upright(320.0, 260.0, side).lit(1.0, 4.0));
            let f = finder
                .find(&frame, Some(&roi), &mut Track::default())
                .unwrap()
                .unwrap_or_else(|| panic!("the large face {i} ({side}) not found"));
            assert!(
                f.side > side / 2.2 * 0.6,
                "face {i} ({side}): side {:.0}",
                f.side
            );
        }
    }
}

#[test]
fn a_face_outside_the_bed_area_is_never_reported_even_when_followed_there() {
    let finder = finder();
    let face = photo_face(0);
    let roi = Roi {
        x: 80,
        y: 40,
        width: 300,
        height: 300,
    };
    let mut track = Track::default();
    // In the bed area: found and followed.
    let inside = on_pillow(&face, 230.0, 190.0, 200.0, 20.0);
    assert!(finder
        .find(&inside, Some(&roi), &mut track)
        .unwrap()
        .is_some());
    // The same face a little outside the bed area (centre right of x = 380): never reported,
    // neither by the track nor by a search, frame after frame.
    let outside = on_pillow(&face, 430.0, 190.0, 200.0, 20.0);
    for _ in 0..3 {
        assert_eq!(finder.find(&outside, Some(&roi), &mut track).unwrap(), None);
    }
    // Without a bed area the whole frame counts, and the face is there.
    assert!(finder
        .find(&outside, None, &mut Track::default())
        .unwrap()
        .is_some());
}

/// Two faces in the bed area: `a` at (cx, cy) size `sa`, `b` at (bx, by) size `sb`.
fn two_faces(
    a: (&image::GrayImage, f32, f32, f32),
    b: (&image::GrayImage, f32, f32, f32),
) -> GrayFrame {
    let bg = scene::bed(7);
    let pose = Pose::upright;
    let first = scene::compose(&bg, a.0, &pose(a.1, a.2, a.3), &mut Rng::new(1));
    let bg: Vec<f32> = first.pixels.iter().map(|&v| v as f32).collect();
    scene::compose(&bg, b.0, &pose(b.1, b.2, b.3), &mut Rng::new(1))
}

#[test]
fn a_second_face_entering_the_bed_area_does_not_steal_the_track() {
    let finder = finder();
    let (patient, visitor) = (photo_face(0), photo_face(5));
    let mut track = Track::default();
    let alone = on_pillow(&patient, 220.0, 200.0, 170.0, 0.0);
    let p = finder
        .find(&alone, Some(&bed_roi()), &mut track)
        .unwrap()
        .unwrap();
    assert!((p.cx - 220.0).abs() < 20.0);
    // A visitor leans in: larger, inside the bed area. The patient stays the patient.
    let both = two_faces(
        (&patient, 220.0, 200.0, 170.0),
        (&visitor, 430.0, 260.0, 230.0),
    );
    for k in 0..3 {
        let f = finder
            .find(&both, Some(&bed_roi()), &mut track)
            .unwrap()
            .expect("the patient");
        assert!(
            (f.cx - 220.0).abs() < 20.0,
            "frame {k}: took the face at {:.0},{:.0}",
            f.cx,
            f.cy
        );
    }
    // Without a track (a fresh camera), the largest face in the bed area is the patient's.
    let f = finder
        .find(&both, Some(&bed_roi()), &mut Track::default())
        .unwrap()
        .unwrap();
    assert!((f.cx - 430.0).abs() < 25.0, "{f:?}");
}

#[test]
fn one_missed_frame_keeps_the_track_and_two_end_it() {
    let finder = finder();
    let (patient, visitor) = (photo_face(0), photo_face(5));
    let roi = bed_roi();
    let empty = GrayFrame::new(640, 480, scene::bed(7).iter().map(|&v| v as u8).collect()).unwrap();
    let with_visitor = on_pillow(&visitor, 430.0, 260.0, 230.0, 0.0);
    let both = two_faces(
        (&patient, 220.0, 200.0, 170.0),
        (&visitor, 430.0, 260.0, 230.0),
    );
    let alone = on_pillow(&patient, 220.0, 200.0, 170.0, 0.0);
    // Followed; one frame where the patient is hidden and only the visitor shows: no face is
    // reported (the visitor is not the patient), and the patient is still followed after it.
    let mut track = Track::default();
    assert!(finder
        .find(&alone, Some(&roi), &mut track)
        .unwrap()
        .is_some());
    assert_eq!(
        finder.find(&with_visitor, Some(&roi), &mut track).unwrap(),
        None
    );
    let f = finder.find(&both, Some(&roi), &mut track).unwrap().unwrap();
    assert!((f.cx - 220.0).abs() < 20.0, "{f:?}");
    // Two frames without the patient: the track ends, and the face in the bed is taken.
    assert_eq!(finder.find(&empty, Some(&roi), &mut track).unwrap(), None);
    assert_eq!(finder.find(&empty, Some(&roi), &mut track).unwrap(), None);
    assert!(track.face().is_none());
    let f = finder
        .find(&with_visitor, Some(&roi), &mut track)
        .unwrap()
        .unwrap();
    assert!((f.cx - 430.0).abs() < 25.0, "{f:?}");
}

#[test]
fn a_missing_or_corrupt_detector_file_is_one_clear_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere.onnx");
    let err = BlazeFace::from_file(&missing).err().unwrap().to_string();
    assert!(
        err.contains("nowhere.onnx") && err.contains("cannot read"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let corrupt = tmp.path().join("corrupt.onnx");
    let mut bytes = areya_vision::blazeface::EMBEDDED_ONNX.to_vec();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&corrupt, &bytes).unwrap();
    let err = BlazeFace::from_file(&corrupt).err().unwrap().to_string();
    assert!(
        err.starts_with("model: ")
            && err.contains("corrupt.onnx")
            && err.contains("not a BlazeFace"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    std::fs::write(&corrupt, b"not a model at all").unwrap();
    let err = BlazeFace::from_file(&corrupt).err().unwrap().to_string();
    assert!(err.contains("corrupt.onnx"), "{err}");
    // Another network (the emotion model: a 48×48 input, not BlazeFace's 128×128 gray view).
    let other = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/areya-fer4/model.onnx");
    let err = BlazeFace::from_file(&other).err().unwrap().to_string();
    assert!(
        err.contains("model.onnx") && err.contains("not a BlazeFace") && err.lines().count() == 1,
        "{err}"
    );
    // A good copy loads.
    let good = tmp.path().join("good.onnx");
    std::fs::write(&good, areya_vision::blazeface::EMBEDDED_ONNX).unwrap();
    assert!(BlazeFace::from_file(&good).is_ok());
    // Through the pipeline's constructor too.
    let err = Locator::bedside(FinderConfig::default(), Some(&missing))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("nowhere.onnx"), "{err}");
}

// ---- The exported model on tract (the edge's runtime) against libtorch ----

use areya_vision::model::{EmotionModel, Runtime};

/// 75 val faces a class when `AREYA_FER2013` is set (300 in all), else 300 crops made here.
fn parity_crops(size: u32) -> (Vec<u8>, usize, &'static str) {
    if let Some(root) = std::env::var_os("AREYA_FER2013").map(PathBuf::from) {
        let mut px = Vec::new();
        for folder in ["angry", "happy", "neutral", "sad"] {
            let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("val").join(folder))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            for f in files.iter().step_by(5).take(75) {
                let img = image::open(f).unwrap().to_luma8();
                let img = image::imageops::resize(&img, size, size, image::imageops::Lanczos3);
                px.extend_from_slice(img.as_raw());
            }
        }
        return (px, 300, "FER-2013 val faces");
    }
    let s = size as usize;
    let mut rng = areya_core::rng::SplitMix64::keyed(&[11]);
    let px = (0..300 * s * s)
        .map(|i| {
            let (x, y) = ((i % s) as f32, ((i / s) % s) as f32);
            let base = 128.0 + 60.0 * ((x + y * 0.5) * (1.0 + (i / (s * s)) as f32 * 0.01)).sin();
            (base + (rng.next_u64() % 40) as f32 - 20.0).clamp(0.0, 255.0) as u8
        })
        .collect();
    (px, 300, "crops made here")
}

/// The shipped `model.onnx` is the shipped weights: on 300 faces its probabilities are those of
/// libtorch in float32 to 1e-4 and every top class is the same.
#[test]
fn the_shipped_onnx_export_gives_the_libtorch_probabilities() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/areya-fer4");
    let mut torch = areya_ml::Classifier::load(&dir).unwrap();
    torch.set_precision(areya_ml::config::Precision::Float32);
    let torch = EmotionModel::from(torch);
    let onnx = EmotionModel::load(&dir, Some(Runtime::Tract)).unwrap();
    assert_eq!(onnx.runtime(), Runtime::Tract);
    assert_eq!(onnx.class_names(), torch.class_names());
    assert_eq!(onnx.image_size(), torch.image_size());
    for d in areya_core::FaceDetectorKind::ALL {
        assert_eq!(onnx.face_crop_for(d), torch.face_crop_for(d), "{d}");
    }
    let (px, n, what) = parity_crops(onnx.image_size());
    let (a, b) = (
        torch.predict(&px, n).unwrap(),
        onnx.predict(&px, n).unwrap(),
    );
    let top = |p: &[f32]| {
        p.iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .unwrap()
            .0
    };
    let mut worst = 0f32;
    for (i, (p, q)) in a.iter().zip(&b).enumerate() {
        let d = p
            .iter()
            .zip(q)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        worst = worst.max(d);
        assert_eq!(top(p), top(q), "{what} #{i}: {p:?} vs {q:?}");
    }
    eprintln!("{n} {what}: largest probability difference {worst:e}");
    assert!(worst < 1e-4, "{what}: largest difference {worst}");
}

/// Through the whole pipeline (BlazeFace, alignment, crop) tract reads the same faces as
/// libtorch; and a run directory without an export says how to make one.
#[test]
fn the_pipeline_on_tract_sees_what_it_sees_on_libtorch() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/areya-fer4");
    let frames: Vec<(GrayFrame, FrameMeta)> = (0..6)
        .map(|i| {
            let roll = [0.0, 30.0, -60.0, 90.0, 15.0, -20.0][i];
            (
                on_pillow(&photo_face(i % 3), 320.0, 200.0, 170.0, roll),
                meta(i as u64, Some(bed_roi())),
            )
        })
        .collect();
    let mut seen = Vec::new();
    for rt in [Runtime::Libtorch, Runtime::Tract] {
        let mut model = EmotionModel::load(&dir, Some(rt)).unwrap();
        // Float32 on both sides: the comparison is of the runtimes, not of precisions.
        if let EmotionModel::Libtorch(c) = &mut model {
            c.set_precision(areya_ml::config::Precision::Float32);
        }
        let mut pipe = Pipeline::new(model, bedside()).unwrap();
        seen.push(pipe.observe(&frames).unwrap());
    }
    assert!(seen[0].iter().filter(|o| o.face.is_some()).count() >= 5);
    for (a, b) in seen[0].iter().zip(&seen[1]) {
        assert_eq!(a.face.map(|f| f.bbox), b.face.map(|f| f.bbox));
        if let (Some(p), Some(q)) = (a.probs(), b.probs()) {
            assert_eq!(p.top(), q.top(), "frame {}", a.frame);
            for e in areya_core::Emotion::ALL {
                assert!(
                    (p[e] - q[e]).abs() < 0.02,
                    "frame {}: {p:?} vs {q:?}",
                    a.frame
                );
            }
        }
    }
    let bare = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("config.json"), bare.path().join("config.json")).unwrap();
    let err = EmotionModel::load(bare.path(), Some(Runtime::Tract))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.onnx: no exported model") && err.contains("areya export --model"),
        "{err}"
    );
}

#[test]
fn an_empty_bed_is_searched_on_one_frame_in_three_after_ten_fruitless_searches() {
    let empty = on_pillow(&image::GrayImage::new(1, 1), 320.0, 175.0, 0.0, 0.0);
    let patient = on_pillow(&photo_face(5), 300.0, 180.0, 170.0, 0.0);
    let roi = bed_roi();
    let (finder, restless) = (
        finder(),
        FaceFinder::new(
            BlazeFace::embedded().unwrap(),
            FinderConfig {
                rest_after: 0,
                ..FinderConfig::default()
            },
        )
        .unwrap(),
    );
    let (mut track, mut always) = (Track::default(), Track::default());
    let mut searched = vec![];
    for _ in 0..22 {
        let before = finder.views();
        assert_eq!(finder.find(&empty, Some(&roi), &mut track).unwrap(), None);
        searched.push(finder.views() > before);
        let before = restless.views();
        assert_eq!(
            restless.find(&empty, Some(&roi), &mut always).unwrap(),
            None
        );
        assert!(
            restless.views() > before,
            "without resting every frame is searched"
        );
    }
    let rhythm: String = searched
        .iter()
        .map(|&s| if s { 'S' } else { '.' })
        .collect();
    assert_eq!(
        rhythm, "SSSSSSSSSS..S..S..S..S",
        "frames searched on an empty bed"
    );
    // The patient back in bed is found on the next frame searched, and followed on every frame
    // from then on.
    let mut found_on = None;
    for k in 0..3 {
        if finder
            .find(&patient, Some(&roi), &mut track)
            .unwrap()
            .is_some()
        {
            found_on = Some(k);
            break;
        }
    }
    assert_eq!(
        found_on,
        Some(2),
        "the third frame is the next one searched"
    );
    for k in 0..5 {
        assert!(
            finder
                .find(&patient, Some(&roi), &mut track)
                .unwrap()
                .is_some(),
            "frame {k} after finding"
        );
    }
}

#[test]
fn a_followed_face_read_a_little_under_the_smallest_size_is_kept_but_not_found_afresh() {
    // Sizes relative to the face's own box: a finder whose smallest face is a tenth larger
    // than this face's box sees it as a face a camera across the room shows at the limit.
    let face = photo_face(5);
    let frame = on_pillow(&face, 220.0, 200.0, 170.0, 0.0);
    let roi = bed_roi();
    let mut track = Track::default();
    let found = finder()
        .find(&frame, Some(&roi), &mut track)
        .unwrap()
        .expect("the face");
    let with = |keep_size: f32| {
        FaceFinder::new(
            BlazeFace::embedded().unwrap(),
            FinderConfig {
                min_face: (found.side * 1.1).ceil() as u32,
                keep_size,
                ..FinderConfig::default()
            },
        )
        .unwrap()
    };
    let (limit, no_hysteresis) = (with(0.75), with(1.0));
    assert_eq!(
        limit
            .find(&frame, Some(&roi), &mut Track::default())
            .unwrap(),
        None,
        "under the smallest face a search takes"
    );
    let mut lost = track.clone();
    for k in 0..12 {
        assert!(
            limit
                .find(&frame, Some(&roi), &mut track)
                .unwrap()
                .is_some(),
            "frame {k}: the followed face was lost"
        );
    }
    assert_eq!(
        no_hysteresis.find(&frame, Some(&roi), &mut lost).unwrap(),
        None,
        "without size hysteresis the same frame loses the patient"
    );
}

#[test]
fn a_followed_face_seen_less_surely_is_kept_but_not_found_afresh() {
    // Scores are relative to the thresholds: this face reads about 0.8, so a finder that wants
    // 0.9 to find a face sees it only "less surely" — what a dim, noisy night view does to the
    // default thresholds (0.6 to find, 0.45 to keep).
    let face = photo_face(5);
    let frame = on_pillow(&face, 220.0, 200.0, 170.0, 0.0);
    let roi = bed_roi();
    let with = |threshold: f32, keep_threshold: f32| {
        FaceFinder::new(
            BlazeFace::embedded().unwrap(),
            FinderConfig {
                threshold,
                keep_threshold,
                ..FinderConfig::default()
            },
        )
        .unwrap()
    };
    let (strict, no_hysteresis) = (with(0.9, 0.45), with(0.9, 0.9));
    assert_eq!(
        strict
            .find(&frame, Some(&roi), &mut Track::default())
            .unwrap(),
        None,
        "not surely a face on its own"
    );
    // Found surely (default thresholds), then followed by the strict finder: kept frame after
    // frame, where it is, as large and turned as when it was seen surely — for ten frames in a
    // row, after which it must be seen surely again.
    let mut track = Track::default();
    let sure = finder()
        .find(&frame, Some(&roi), &mut track)
        .unwrap()
        .unwrap();
    for k in 0..10 {
        let f = strict
            .find(&frame, Some(&roi), &mut track)
            .unwrap()
            .unwrap_or_else(|| panic!("frame {k}: the followed face was lost"));
        assert!(f.score < 0.9, "frame {k}: {f:?}");
        assert!(
            (f.cx - sure.cx).abs() < 5.0 && (f.cy - sure.cy).abs() < 5.0,
            "frame {k}: moved from {sure:?} to {f:?}"
        );
        assert_eq!((f.side, f.roll), (sure.side, sure.roll), "frame {k}");
    }
    for k in 10..13 {
        assert_eq!(
            strict.find(&frame, Some(&roi), &mut track).unwrap(),
            None,
            "frame {k}: followed on less sure sightings alone for too long"
        );
    }
    assert!(track.face().is_none());
    // Seen surely once more, it is followed again.
    assert!(finder()
        .find(&frame, Some(&roi), &mut track)
        .unwrap()
        .is_some());
    assert!(strict
        .find(&frame, Some(&roi), &mut track)
        .unwrap()
        .is_some());
    // Without the lower threshold to keep it, the same frame loses the patient.
    let mut track = Track::default();
    assert!(finder()
        .find(&frame, Some(&roi), &mut track)
        .unwrap()
        .is_some());
    assert_eq!(
        no_hysteresis.find(&frame, Some(&roi), &mut track).unwrap(),
        None
    );
}

#[test]
fn a_far_cameras_small_face_is_found_after_a_while_and_then_at_once() {
    // A face whose box is under the smallest face a search takes (`min_face` 40), lying still:
    // a camera farther from the bed than the default assumes.
    let face = photo_face(3);
    let (cx, cy) = (250.0, 200.0);
    let frame = on_pillow(&face, cx, cy, 55.0, 0.0);
    let empty = scene::compose(
        &scene::bed(7),
        &image::GrayImage::new(1, 1),
        &Pose::upright(cx, cy, 0.0),
        &mut Rng::new(1),
    );
    let roi = bed_roi();
    let at = |f: &Face| (f.cx - cx).abs() < 15.0 && (f.cy - cy).abs() < 15.0;
    let near_only = without_far_search();
    let mut track = Track::default();
    for k in 0..30 {
        assert_eq!(
            near_only.find(&frame, Some(&roi), &mut track).unwrap(),
            None,
            "frame {k}: without the far search the face is too small to find"
        );
    }
    // With it: not in the first ten frames (a near camera's patient is found long before), then
    // within a few searches for far faces, and followed from then on.
    let f = finder();
    let mut track = Track::default();
    let seen: Vec<Option<Face>> = (0..30)
        .map(|_| f.find(&frame, Some(&roi), &mut track).unwrap())
        .collect();
    let first = seen
        .iter()
        .position(Option::is_some)
        .expect("found within 30 frames");
    assert!((10..=20).contains(&first), "found first at frame {first}");
    // Followed, though a face this small is now and then lost for a frame or two.
    let after = &seen[first..];
    let followed = after.iter().filter(|s| s.is_some_and(|s| at(&s))).count();
    assert!(
        followed * 4 >= after.len() * 3 && after.iter().flatten().all(at),
        "{followed} of {} frames: {after:?}",
        after.len()
    );
    assert!(
        track.far(),
        "a face under min_face was confirmed: a far camera"
    );
    // The patient away for a few frames, then back: this camera's searches now take far faces,
    // so the face is found again in the few frames its tiles take, not ten frames and more.
    for k in 0..5 {
        assert_eq!(
            f.find(&empty, Some(&roi), &mut track).unwrap(),
            None,
            "empty {k}"
        );
    }
    let again = (0..4).position(|_| {
        f.find(&frame, Some(&roi), &mut track)
            .unwrap()
            .is_some_and(|s| at(&s))
    });
    assert!(again.is_some(), "not found again within four frames");
    // A near camera's patient never makes it a far one.
    let mut track = Track::default();
    let near = on_pillow(&face, 300.0, 200.0, 170.0, 0.0);
    for _ in 0..3 {
        assert!(f.find(&near, Some(&roi), &mut track).unwrap().is_some());
    }
    assert!(!track.far());
}

#[test]
fn a_face_under_min_face_on_the_pillows_edge_is_found_inside_the_pillow_at_once() {
    // The whole area's view reads the pillow, with this face on its top edge, as one large
    // face; the face's box (about 31 px) is under `min_face`, so the second look inside the
    // pillow at the tiles' scale finds nothing. At the far search's scale it finds the face,
    // in the first frame, and the camera is taken for a far one.
    let (roi, faces) = (bed_roi(), photo_face_images(3));
    let (cx, cy) = (320.0, 110.0);
    let frame = scene::compose(
        &scene::bed(7),
        &faces[2],
        &Pose::upright(cx, cy, 70.0).lit(0.5, 4.0),
        &mut Rng::new(1),
    );
    let near_only = without_far_search();
    let mut track = Track::default();
    for k in 0..3 {
        assert_eq!(
            near_only.find(&frame, Some(&roi), &mut track).unwrap(),
            None,
            "frame {k}"
        );
    }
    let mut track = Track::default();
    let f = finder()
        .find(&frame, Some(&roi), &mut track)
        .unwrap()
        .expect("found in the first frame");
    assert!(
        (f.cx - cx).abs() < 10.0 && (f.cy - cy).abs() < 10.0 && f.side < 40.0,
        "{f:?}"
    );
    assert!(track.far());
}
