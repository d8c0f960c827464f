//! `areya watch`: reads cameras, streams, videos or image files, finds each patient's face in
//! the bed area, classifies it, and writes one observation per sampled frame as JSON Lines or
//! CSV, or posts it to an Areya server. `--config ward.toml` watches many beds: each source is
//! read on its own thread (live ones reconnect with backoff and report "source offline"), and
//! one batched classifier serves them all.

use super::default_model;
use anyhow::Context;
use areya_core::{Emotion, Observation, PatientId, SourceId};
use areya_edge::{EdgeError, Poster};
use areya_vision::model::{EmotionModel, Runtime};
use areya_vision::pipeline::{FrameMeta, Locator, Pipeline, Seen};
use areya_vision::reconnect::Retry;
use areya_vision::roi::Roi;
use areya_vision::watch::{open_source, watch, Bed, OnModelError, OpenOptions, WatchSink};
use areya_vision::{GrayFrame, VisionError};
use clap::Args;
use serde::Deserialize;
use std::io::Write;
use std::path::PathBuf;

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
    /// Run directory, or a model exported with `areya export --onnx` (default: the shipped
    /// model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// What runs the emotion model: libtorch (a run directory's weights) or tract (pure Rust:
    /// an .onnx file, or the run directory's model.onnx). Default: tract for an .onnx file or in
    /// a build without libtorch (the edge agent's), else libtorch.
    #[arg(long)]
    pub runtime: Option<Runtime>,
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
    /// Smallest face to find, in frame pixels (the detector's box side; a face image 60 px
    /// across has a box of about 40). A face being followed is kept down to three quarters
    /// of it. With blazeface and over 30: after ten frames without a face, every other search
    /// also looks down to 30 px, and a camera whose face is found that small is searched so
    /// from then on (a far camera; 30 finds such faces from the first frame).
    #[arg(long, default_value_t = 40)]
    pub min_face: u32,
    /// The face detector. blazeface: Google MediaPipe's BlazeFace short-range (Apache-2.0,
    /// from the mediapipe==0.10.21 wheel, converted to ONNX by models/detector/convert.sh and
    /// embedded in this binary), run with a rotation search (0°, ±90°), 256-pixel tiles for small faces,
    /// alignment by the eyes and a track per camera: faces tilted or lying on their side on the
    /// pillow, down to about 40 px, dim at night. seetaface: the rustface crate's upright-only
    /// cascade, kept for comparison.
    #[arg(long, default_value = "blazeface")]
    pub detector: areya_core::FaceDetectorKind,
    /// Load the BlazeFace model from this ONNX file instead of the embedded copy (one gray
    /// input channel, as models/detector/convert.sh makes it).
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
    fn write(&mut self, o: &Observation) -> std::io::Result<()> {
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
    fn flush(&mut self) -> std::io::Result<()> {
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

fn load_ward(a: &WatchArgs) -> anyhow::Result<(Vec<Bed>, OpenOptions, u32)> {
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
    let open = OpenOptions {
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
    let clf = EmotionModel::load(&default_model(a.model.clone())?, a.runtime)?;
    // A setting a ward file gives is named with the file; one from a flag, by its flag.
    let named = |e: VisionError| {
        let ward_key = matches!(&e, VisionError::Config(s)
            if ["fps", "size", "min_face", "roi", "source"].contains(&s.field.as_str()));
        match &a.config {
            Some(file) if ward_key => anyhow::anyhow!("{}: {e}", file.display()),
            _ => super::flags::by_flag(e),
        }
    };
    let locator =
        Locator::of_kind(a.detector, min_face, a.detector_model.as_deref()).map_err(named)?;
    let mut pipe = Pipeline::new(clf, locator)?;
    // Open every source first, so a bad path or setting fails at once with its name.
    let mut sources = Vec::new();
    for b in &beds {
        sources.push(open_source(&b.inputs, open).map_err(named)?);
    }
    let names: Vec<String> = sources.iter().map(|s| s.name()).collect();
    let poster = match &a.server {
        Some(url) => {
            let token = a
                .token
                .clone()
                .or_else(|| std::env::var("AREYA_DEVICE_TOKEN").ok())
                .unwrap_or_default();
            // An hour of observations at 2 frames/s for 30 cameras.
            let give_up = std::time::Duration::from_secs(a.give_up_s);
            Some(
                Poster::start(url, &token, 216_000, give_up).map_err(|e| match e {
                    EdgeError::NoToken => anyhow::anyhow!("--token: {e}"),
                    EdgeError::Thread(_) => anyhow::anyhow!("{e}"),
                    e => anyhow::anyhow!("--server {e}"),
                })?,
            )
        }
        None => None,
    };
    let out = match (&a.csv, a.jsonl.as_deref()) {
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
    // With a server the model's failures become a technical alert there and watching goes
    // on; without one the first failure ends the command.
    let on_model_error = if poster.is_some() {
        OnModelError::Report
    } else {
        OnModelError::Stop
    };
    let mut sink = Outputs {
        beds: &beds,
        out,
        annotate: a.annotate.clone(),
        poster,
    };
    let summary = watch(
        &mut pipe,
        &beds,
        sources,
        a.batch,
        on_model_error,
        &mut sink,
    )?;
    eprintln!(
        "{}: {} frame(s), {} with the patient's face, {} unreadable",
        names.join(", "),
        summary.frames,
        summary.faces,
        summary.unreadable
    );
    if let Some(p) = sink.poster.take() {
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
    if summary.frames == 0 {
        anyhow::bail!("{}: no frame could be read", names.join(", "));
    }
    Ok(())
}

/// Where `areya watch` sends what it sees: JSON Lines or CSV, annotated frames, a server.
struct Outputs<'a> {
    beds: &'a [Bed],
    out: Option<Sink>,
    annotate: Option<PathBuf>,
    poster: Option<Poster>,
}

impl WatchSink for Outputs<'_> {
    fn observed(
        &mut self,
        frames: &[(GrayFrame, FrameMeta)],
        seen: Vec<Seen>,
    ) -> std::io::Result<()> {
        if let Some(dir) = &self.annotate {
            for ((frame, meta), s) in frames.iter().zip(&seen) {
                let img = areya_vision::annotate::annotate(frame, meta.roi.as_ref(), s);
                let o = &s.observation;
                let path = dir.join(format!("{}-{:06}.png", o.source, o.frame));
                img.save(&path).map_err(|e| {
                    std::io::Error::other(format!(
                        "--annotate: cannot write {}: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        for o in seen.into_iter().map(|s| s.observation) {
            if let Some(s) = &mut self.out {
                s.write(&o)?;
            }
            if let Some(p) = &self.poster {
                p.send(o);
            }
        }
        if let Some(s) = &mut self.out {
            s.flush()?;
        }
        Ok(())
    }

    fn source_error(&mut self, bed: usize, e: &VisionError) -> std::io::Result<()> {
        eprintln!("{e}");
        if let (VisionError::Offline { seconds, .. }, Some(Sink::Jsonl(w))) = (e, &mut self.out) {
            let b = &self.beds[bed];
            let line = serde_json::json!({ "event": "source_offline", "source": b.source, "patient": b.patient, "at_ms": areya_vision::source::now_ms(), "offline_s": seconds });
            writeln!(w, "{line}")?;
            w.flush()?;
        }
        Ok(())
    }

    fn model_health(&mut self, bed: usize, error: Option<&str>) {
        if let Some(e) = error {
            eprintln!("{e}");
        }
        if let Some(p) = &self.poster {
            p.health(self.beds[bed].patient.clone(), error.map(str::to_string));
        }
    }
}
