//! `areya watch`: reads a camera, stream, video or image files, finds the patient's face in the
//! bed area, classifies it, and writes one observation per sampled frame as JSON Lines or CSV.

use super::default_model;
use anyhow::Context;
use areya_core::{Observation, PatientId, SourceId};
use areya_ml::Classifier;
use areya_vision::detect::DetectConfig;
use areya_vision::pipeline::{FrameMeta, Pipeline};
use areya_vision::roi::Roi;
use areya_vision::source::{is_image_path, Ffmpeg, FrameSource, ImageFiles};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A video file, rtsp:// or http(s):// stream, /dev/videoN camera, or image files/folders.
    #[arg(required = true)]
    pub source: Vec<String>,
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
    /// Write JSON Lines here ("-" = standard output, the default).
    #[arg(long)]
    pub jsonl: Option<String>,
    /// Write CSV here instead.
    #[arg(long, conflicts_with = "jsonl")]
    pub csv: Option<PathBuf>,
    /// Frames classified together.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Post observations to an Areya server (http://HOST:PORT), batched and retried.
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
                let (f, p) = (o.face, o.probs);
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
                    cell(p.map(|p| format!("{:.4}", p.angry))),
                    cell(p.map(|p| format!("{:.4}", p.happy))),
                    cell(p.map(|p| format!("{:.4}", p.relaxed))),
                    cell(p.map(|p| format!("{:.4}", p.sad))),
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

pub fn run(a: WatchArgs) -> anyhow::Result<()> {
    let patient = PatientId::parse(&a.patient).context("--patient")?;
    let source_id = SourceId::parse(&a.source_id).context("--source-id")?;
    let roi = a.roi.as_deref().map(Roi::parse).transpose()?;
    let (w, h) = parse_size(&a.size)?;
    let clf = Classifier::load(&default_model(a.model)?)?;
    let mut pipe = Pipeline::new(
        clf,
        DetectConfig {
            min_face: a.min_face,
            ..DetectConfig::default()
        },
    )?;
    let mut source: Box<dyn FrameSource> = if a
        .source
        .iter()
        .all(|s| Path::new(s).is_dir() || is_image_path(Path::new(s)))
    {
        Box::new(ImageFiles::new(
            &a.source.iter().map(PathBuf::from).collect::<Vec<_>>(),
        )?)
    } else if let [one] = &a.source[..] {
        Box::new(Ffmpeg::open(one, a.fps, w, h)?)
    } else {
        anyhow::bail!("give one video, stream or camera, or any number of image files and folders");
    };
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
    let mut model_failing = false;
    let mut batch = Vec::with_capacity(a.batch.max(1));
    loop {
        let next = source.next_frame();
        match &next {
            Some(Ok(_)) | None => {}
            Some(Err(e)) => {
                eprintln!("{e}");
                bad += 1;
            }
        }
        let end = next.is_none()
            || matches!(next, Some(Err(areya_vision::VisionError::Source { .. })) if !source.name().ends_with("file(s)"));
        if let Some(Ok(t)) = next {
            let meta = FrameMeta {
                source: source_id.clone(),
                patient: patient.clone(),
                at_ms: t.at_ms,
                frame: t.index,
                roi,
            };
            batch.push((t.frame, meta));
        }
        if batch.len() >= a.batch.max(1) || (end && !batch.is_empty()) {
            let observed = match (pipe.observe(&batch), &poster) {
                (Ok(obs), _) => {
                    if model_failing {
                        model_failing = false;
                        if let Some(p) = &poster {
                            p.health(patient.clone(), None);
                        }
                    }
                    obs
                }
                // Reported to the server (a technical alert) and watching goes on.
                (Err(e), Some(p)) => {
                    eprintln!("{e}");
                    model_failing = true;
                    p.health(patient.clone(), Some(e.to_string()));
                    vec![]
                }
                (Err(e), None) => return Err(e.into()),
            };
            for o in observed {
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
            batch.clear();
        }
        if end {
            break;
        }
    }
    eprintln!(
        "{}: {frames} frame(s), {faces} with the patient's face, {bad} unreadable",
        source.name()
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
        anyhow::bail!("{}: no frame could be read", source.name());
    }
    Ok(())
}
