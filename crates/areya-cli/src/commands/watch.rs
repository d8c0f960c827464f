//! `areya watch`: reads cameras, streams, videos or image files, finds each patient's face in
//! the bed area, classifies it, and writes one observation per sampled frame as JSON Lines or
//! CSV, or posts it to an Areya server. `--config ward.toml` watches many beds: each source is
//! read on its own thread (live ones reconnect with backoff and report "source offline"), and
//! one batched classifier serves them all.

use super::default_model;
use anyhow::Context;
use areya_core::{Emotion, Observation, PatientId, SourceId};
use areya_ml::Classifier;
use areya_vision::pipeline::{FrameMeta, Locator, Pipeline};
use areya_vision::reconnect::{Reconnecting, Retry};
use areya_vision::roi::Roi;
use areya_vision::source::{is_image_path, Ffmpeg, FrameSource, ImageFiles, Timed};
use areya_vision::VisionError;
use clap::Args;
use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A video file, rtsp:// or http(s):// stream, /dev/videoN camera, or image files/folders.
    #[arg(required_unless_present = "config", conflicts_with = "config")]
    pub source: Vec<String>,
    /// Many beds: a TOML file with [[bed]] entries (patient, source_id, url, roi) and optional
    /// fps, size, min_face, offline_after_s.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Write each observed frame, annotated (bed area, face box, emotion), as PNG here. Nothing
    /// else ever writes a frame to disk.
    #[arg(long)]
    pub annotate: Option<PathBuf>,
    /// A live source without frames this long is reported offline (and keeps reconnecting).
    #[arg(long, default_value_t = 30)]
    pub offline_after_s: u64,
    /// Run directory (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long, default_value = "patient-1")]
    pub patient: String,
    #[arg(long, default_value = "cam-1")]
    pub source_id: String,
    /// The bed area x,y,w,h in frame pixels: faces outside it are never analysed.
    #[arg(long)]
    pub roi: Option<String>,
    /// Frames sampled per second from videos, streams and cameras.
    #[arg(long, default_value_t = 2.0)]
    pub fps: f64,
    /// Frame size videos are decoded to, WxH.
    #[arg(long, default_value = "640x480")]
    pub size: String,
    /// Smallest face to find, in frame pixels.
    #[arg(long, default_value_t = 40)]
    pub min_face: u32,
    /// The face detector. blazeface: Google MediaPipe's BlazeFace short-range (Apache-2.0,
    /// from the mediapipe==0.10.21 wheel, converted to ONNX by models/detector/convert.sh and
    /// embedded in this binary), run with a rotation search (0°, ±90°), tiles for small faces,
    /// alignment by the eyes and a track per camera: faces tilted or lying on their side on the
    /// pillow, down to about 40 px, dim at night. seetaface: the rustface crate's upright-only
    /// cascade, kept for comparison.
    #[arg(long, default_value = "blazeface")]
    pub detector: areya_core::FaceDetectorKind,
    /// Load the BlazeFace model from this ONNX file instead of the embedded copy.
    #[arg(long)]
    pub detector_model: Option<PathBuf>,
    /// Write JSON Lines here ("-" = standard output, the default).
    #[arg(long)]
    pub jsonl: Option<String>,
    /// Write CSV here instead.
    #[arg(long, conflicts_with = "jsonl")]
    pub csv: Option<PathBuf>,
    /// Frames classified together.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Post observations to an Areya server (http://HOST:PORT), batched and retried. A video
    /// file then plays as a camera: in real time, stamped with the wall clock (the server
    /// refuses times far from its own).
    #[arg(long)]
    pub server: Option<String>,
    /// The device token for --server [env: AREYA_DEVICE_TOKEN].
    #[arg(long, requires = "server")]
    pub token: Option<String>,
    /// With --server: once the source has ended, keep retrying undelivered observations this
    /// many seconds before giving up.
    #[arg(long, default_value_t = 60)]
    pub give_up_s: u64,
}

fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = s
        .split_once('x')
        .with_context(|| format!("--size: '{s}' is not WxH"))?;
    Ok((
        w.parse()
            .with_context(|| format!("--size: bad width in '{s}'"))?,
        h.parse()
            .with_context(|| format!("--size: bad height in '{s}'"))?,
    ))
}

enum Sink {
    Jsonl(Box<dyn Write>),
    Csv(Box<dyn Write>),
}

impl Sink {
    fn write(&mut self, o: &Observation) -> anyhow::Result<()> {
        match self {
            Sink::Jsonl(w) => writeln!(w, "{}", serde_json::to_string(o)?)?,
            Sink::Csv(w) => {
                let (f, p) = (o.face.map(|s| s.bbox), o.probs());
                let cell = |v: Option<String>| v.unwrap_or_default();
                writeln!(
                    w,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    o.source,
                    o.patient,
                    o.at_ms,
                    o.frame,
                    cell(f.map(|f| f.x.to_string())),
                    cell(f.map(|f| f.y.to_string())),
                    cell(f.map(|f| f.width.to_string())),
                    cell(f.map(|f| f.height.to_string())),
                    cell(f.map(|f| format!("{:.3}", f.score))),
                    cell(p.map(|p| format!("{:.4}", p[Emotion::Angry]))),
                    cell(p.map(|p| format!("{:.4}", p[Emotion::Happy]))),
                    cell(p.map(|p| format!("{:.4}", p[Emotion::Relaxed]))),
                    cell(p.map(|p| format!("{:.4}", p[Emotion::Sad]))),
                )?
            }
        }
        Ok(())
    }
    fn flush(&mut self) -> anyhow::Result<()> {
        match self {
            Sink::Jsonl(w) | Sink::Csv(w) => w.flush()?,
        }
        Ok(())
    }
}

/// One bed of a ward file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BedSource {
    pub patient: String,
    pub source_id: String,
    /// A video file, stream URL, /dev/videoN, or an image file or folder.
    pub url: String,
    pub roi: Option<String>,
}

/// `--config ward.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WardFile {
    pub fps: Option<f64>,
    pub size: Option<String>,
    pub min_face: Option<u32>,
    pub offline_after_s: Option<u64>,
    pub bed: Vec<BedSource>,
}

/// A bed checked once: ids parsed, ROI parsed.
struct Bed {
    patient: PatientId,
    source: SourceId,
    inputs: Vec<String>,
    roi: Option<Roi>,
}

/// How sources are opened.
#[derive(Clone, Copy)]
struct Open {
    fps: f64,
    width: u32,
    height: u32,
    retry: Retry,
    /// Posting to a server: a video file plays as a camera would (real time, wall clock).
    as_camera: bool,
}

fn is_live(url: &str) -> bool {
    url.contains("://") || url.starts_with("/dev/video")
}

/// Images and folders, a video file, or a live source that reconnects by itself.
fn open_source(inputs: &[String], o: Open) -> Result<Box<dyn FrameSource>, VisionError> {
    if inputs
        .iter()
        .all(|s| Path::new(s).is_dir() || is_image_path(Path::new(s)))
    {
        return Ok(Box::new(ImageFiles::new(
            &inputs.iter().map(PathBuf::from).collect::<Vec<_>>(),
        )?));
    }
    let [one] = inputs else {
        return Err(VisionError::config(
            "source",
            "give one video, stream or camera, or any number of image files and folders",
        ));
    };
    if !is_live(one) {
        return Ok(Box::new(if o.as_camera {
            Ffmpeg::open_as_camera(one, o.fps, o.width, o.height)?
        } else {
            Ffmpeg::open(one, o.fps, o.width, o.height)?
        }));
    }
    // Check the settings now; connection failures are retried.
    drop(
        Ffmpeg::open(one, o.fps, o.width, o.height).map_err(|e| match e {
            VisionError::Config { .. } => e,
            _ => VisionError::source(one, "ffmpeg could not be started"),
        }),
    );
    let url = one.clone();
    Ok(Box::new(Reconnecting::new(
        one.clone(),
        o.retry,
        Box::new(move || {
            Ffmpeg::open(&url, o.fps, o.width, o.height)
                .map(|f| Box::new(f) as Box<dyn FrameSource>)
        }),
    )))
}

/// What a source thread sends: a frame, an error, or its end.
enum Event {
    Frame(usize, Timed),
    Error(usize, VisionError),
    Ended,
}

fn load_ward(a: &WatchArgs) -> anyhow::Result<(Vec<Bed>, Open, u32)> {
    let (file, from_file) = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("--config: cannot read {}", p.display()))?;
            let f: WardFile = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", p.display(), e.message()))?;
            anyhow::ensure!(!f.bed.is_empty(), "{}: no [[bed]] entries", p.display());
            (f, true)
        }
        None => (
            WardFile {
                fps: None,
                size: None,
                min_face: None,
                offline_after_s: None,
                bed: vec![BedSource {
                    patient: a.patient.clone(),
                    source_id: a.source_id.clone(),
                    url: String::new(),
                    roi: a.roi.clone(),
                }],
            },
            false,
        ),
    };
    let at = |i: usize, field: &str| {
        if from_file {
            format!("bed[{i}].{field}")
        } else {
            format!("--{}", field.replace('_', "-"))
        }
    };
    let mut beds = Vec::new();
    for (i, b) in file.bed.iter().enumerate() {
        let inputs = if from_file {
            vec![b.url.clone()]
        } else {
            a.source.clone()
        };
        beds.push(Bed {
            patient: PatientId::parse(&b.patient).with_context(|| at(i, "patient"))?,
            source: SourceId::parse(&b.source_id).with_context(|| at(i, "source_id"))?,
            inputs,
            roi: b
                .roi
                .as_deref()
                .map(Roi::parse)
                .transpose()
                .with_context(|| at(i, "roi"))?,
        });
    }
    let (width, height) = parse_size(file.size.as_deref().unwrap_or(&a.size))?;
    let open = Open {
        fps: file.fps.unwrap_or(a.fps),
        width,
        height,
        retry: Retry {
            offline_after: std::time::Duration::from_secs(
                file.offline_after_s.unwrap_or(a.offline_after_s).max(1),
            ),
            ..Retry::default()
        },
        as_camera: a.server.is_some(),
    };
    Ok((beds, open, file.min_face.unwrap_or(a.min_face)))
}

pub fn run(a: WatchArgs) -> anyhow::Result<()> {
    let (beds, open, min_face) = load_ward(&a)?;
    if let Some(dir) = &a.annotate {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--annotate: cannot create {}", dir.display()))?;
    }
    let clf = Classifier::load(&default_model(a.model.clone())?)?;
    // Settings from flags are named by their flag; from a ward file, by their key there.
    let named = |e: VisionError| match &a.config {
        Some(file) => anyhow::anyhow!("{}: {e}", file.display()),
        None => super::flags::by_flag(e),
    };
    let locator = Locator::of_kind(a.detector, min_face, a.detector_model.as_deref()).map_err(
        |e| match e {
            VisionError::Config { ref field, .. } if field == "detector_model" => {
                super::flags::by_flag(e)
            }
            e => named(e),
        },
    )?;
    let mut pipe = Pipeline::new(clf, locator)?;
    // Open every source first, so a bad path or setting fails at once with its name.
    let mut sources = Vec::new();
    for b in &beds {
        sources.push(open_source(&b.inputs, open).map_err(|e| match e {
            VisionError::Config { .. } => named(e),
            e => e.into(),
        })?);
    }
    let names: Vec<String> = sources.iter().map(|s| s.name()).collect();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Event>(64);
    for (i, mut src) in sources.into_iter().enumerate() {
        let tx = tx.clone();
        let file_source = !is_live(&beds[i].inputs[0]);
        std::thread::spawn(move || loop {
            let event = match src.next_frame() {
                None => Event::Ended,
                Some(Ok(t)) => Event::Frame(i, t),
                Some(Err(e)) => Event::Error(i, e),
            };
            let ended = matches!(event, Event::Ended);
            // A video or image source whose stream broke ends there; live ones reconnect.
            let broke =
                file_source && matches!(&event, Event::Error(_, VisionError::Source { .. }));
            if tx.send(event).is_err() || ended {
                return;
            }
            if broke {
                let _ = tx.send(Event::Ended);
                return;
            }
        });
    }
    drop(tx);
    let poster = match &a.server {
        Some(url) => {
            let token = a
                .token
                .clone()
                .or_else(|| std::env::var("AREYA_DEVICE_TOKEN").ok())
                .unwrap_or_default();
            // An hour of observations at 2 frames/s for 30 cameras.
            Some(super::edge::Poster::start(
                url,
                &token,
                216_000,
                std::time::Duration::from_secs(a.give_up_s),
            )?)
        }
        None => None,
    };
    let mut sink = match (&a.csv, a.jsonl.as_deref()) {
        (None, None) if poster.is_some() => None,
        (Some(p), _) => {
            let mut f = std::fs::File::create(p)
                .with_context(|| format!("cannot write {}", p.display()))?;
            writeln!(f, "source,patient,at_ms,frame,face_x,face_y,face_w,face_h,face_score,p_angry,p_happy,p_relaxed,p_sad")?;
            Some(Sink::Csv(Box::new(std::io::BufWriter::new(f))))
        }
        (None, None | Some("-")) => Some(Sink::Jsonl(Box::new(std::io::stdout()))),
        (None, Some(p)) => Some(Sink::Jsonl(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {p}"))?,
        )))),
    };
    let (mut frames, mut faces, mut bad) = (0u64, 0u64, 0u64);
    let mut model_failing = vec![false; beds.len()];
    let mut open_sources = beds.len();
    let mut batch: Vec<(areya_vision::GrayFrame, FrameMeta, usize)> =
        Vec::with_capacity(a.batch.max(1));
    let wait = std::time::Duration::from_millis(50);
    loop {
        let event = match rx.recv_timeout(wait) {
            Ok(e) => Some(e),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                open_sources = 0;
                None
            }
        };
        let idle = event.is_none();
        match event {
            Some(Event::Frame(i, t)) => {
                let b = &beds[i];
                let meta = FrameMeta {
                    source: b.source.clone(),
                    patient: b.patient.clone(),
                    at_ms: t.at_ms,
                    frame: t.index,
                    roi: b.roi,
                };
                batch.push((t.frame, meta, i));
            }
            Some(Event::Error(i, e)) => {
                eprintln!("{e}");
                if let (VisionError::Offline { seconds, .. }, Some(Sink::Jsonl(w))) =
                    (&e, &mut sink)
                {
                    let b = &beds[i];
                    let line = serde_json::json!({ "event": "source_offline", "source": b.source, "patient": b.patient, "at_ms": areya_vision::source::now_ms(), "offline_s": seconds });
                    writeln!(w, "{line}")?;
                    w.flush()?;
                } else if !matches!(e, VisionError::Offline { .. }) {
                    bad += 1;
                }
            }
            Some(Event::Ended) => open_sources = open_sources.saturating_sub(1),
            None => {}
        }
        let flush = batch.len() >= a.batch.max(1) || idle || open_sources == 0;
        if flush && !batch.is_empty() {
            let which: Vec<usize> = batch.iter().map(|b| b.2).collect();
            let frames_in: Vec<(areya_vision::GrayFrame, FrameMeta)> =
                batch.drain(..).map(|(f, m, _)| (f, m)).collect();
            let observed = match (pipe.observe_seen(&frames_in), &poster) {
                (Ok(obs), _) => {
                    for &i in &which {
                        if std::mem::take(&mut model_failing[i]) {
                            if let Some(p) = &poster {
                                p.health(beds[i].patient.clone(), None);
                            }
                        }
                    }
                    obs
                }
                // Reported to the server (a technical alert) and watching goes on.
                (Err(e), Some(p)) => {
                    eprintln!("{e}");
                    for &i in &which {
                        if !std::mem::replace(&mut model_failing[i], true) {
                            p.health(beds[i].patient.clone(), Some(e.to_string()));
                        }
                    }
                    vec![]
                }
                (Err(e), None) => return Err(e.into()),
            };
            if let Some(dir) = &a.annotate {
                for ((frame, meta), seen) in frames_in.iter().zip(&observed) {
                    let img = areya_vision::annotate::annotate(frame, meta.roi.as_ref(), seen);
                    let o = &seen.observation;
                    let path = dir.join(format!("{}-{:06}.png", o.source, o.frame));
                    img.save(&path)
                        .with_context(|| format!("--annotate: cannot write {}", path.display()))?;
                }
            }
            for o in observed.into_iter().map(|s| s.observation) {
                frames += 1;
                faces += u64::from(o.face.is_some());
                if let Some(s) = &mut sink {
                    s.write(&o)?;
                }
                if let Some(p) = &poster {
                    p.send(o);
                }
            }
            if let Some(s) = &mut sink {
                s.flush()?;
            }
        }
        if open_sources == 0 && batch.is_empty() {
            break;
        }
    }
    eprintln!(
        "{}: {frames} frame(s), {faces} with the patient's face, {bad} unreadable",
        names.join(", ")
    );
    if let Some(p) = poster {
        let d = p.finish();
        eprintln!(
            "--server: {} delivered, {} already there, {} refused, {} dropped in an outage, {} undelivered",
            d.delivered, d.duplicates, d.rejected, d.overflow, d.undelivered
        );
        if d.undelivered > 0 {
            anyhow::bail!(
                "--server: {} observation(s) could not be delivered within {} s",
                d.undelivered,
                a.give_up_s
            );
        }
    }
    if frames == 0 {
        anyhow::bail!("{}: no frame could be read", names.join(", "));
    }
    Ok(())
}
