//! Many beds watched at once: each bed's source read on a thread of its own into one channel,
//! frames batched across beds through one [`Pipeline`] (one detector and classifier pass per
//! batch), and what each batch gave handed to a [`WatchSink`] (the CLI writes files, draws
//! annotated frames and posts to a server). Sources are opened by [`open_source`]: image files
//! and folders, a video file, or a live stream that reconnects by itself.

use crate::pipeline::{FrameMeta, Pipeline, Seen};
use crate::reconnect::{Reconnecting, Retry};
use crate::roi::Roi;
use crate::source::{is_image_path, Ffmpeg, FrameSource, ImageFiles, Timed};
use crate::{GrayFrame, VisionError};
use areya_core::{PatientId, SourceId};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::time::Duration;

/// One bed: who lies there, which camera, where on its frames the bed is, and what to read.
#[derive(Debug, Clone)]
pub struct Bed {
    pub patient: PatientId,
    pub source: SourceId,
    pub roi: Option<Roi>,
    /// One video, stream or camera, or any number of image files and folders.
    pub inputs: Vec<String>,
}

/// How sources are opened.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    pub fps: f64,
    pub width: u32,
    pub height: u32,
    pub retry: Retry,
    /// A video file plays as a camera would (real time, stamped with the wall clock): what a
    /// server expects of an edge agent.
    pub as_camera: bool,
}

/// A stream URL or camera device (as opposed to a file).
pub fn is_live(url: &str) -> bool {
    url.contains("://") || url.starts_with("/dev/video")
}

fn images_only(inputs: &[String]) -> bool {
    inputs
        .iter()
        .all(|s| Path::new(s).is_dir() || is_image_path(Path::new(s)))
}

/// Images and folders, a video file, or a live source that reconnects by itself. Settings are
/// checked at once (a bad one is a `Config` error naming it); a live source's connection
/// failures are retried.
pub fn open_source(inputs: &[String], o: OpenOptions) -> Result<Box<dyn FrameSource>, VisionError> {
    if images_only(inputs) {
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
    // Check the settings now (a bad one is not retried); connection failures are.
    if let Err(e @ VisionError::Config(_)) = Ffmpeg::open(one, o.fps, o.width, o.height) {
        return Err(e);
    }
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

/// Where the watcher's results go. Each call may fail (a full disk); the watcher then stops
/// with that error.
pub trait WatchSink {
    /// One batch: the frames with their metadata, and what was seen on each (same order).
    fn observed(
        &mut self,
        frames: &[(GrayFrame, FrameMeta)],
        seen: Vec<Seen>,
    ) -> std::io::Result<()>;
    /// Bed `bed`'s source reported a problem (offline, an unreadable frame).
    fn source_error(&mut self, bed: usize, error: &VisionError) -> std::io::Result<()>;
    /// The model fails (`Some(reason)`) or works again (`None`) on bed `bed`'s frames.
    fn model_health(&mut self, bed: usize, error: Option<&str>);
}

/// What a model failure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnModelError {
    /// Stop watching with the error.
    Stop,
    /// Tell the sink per bed (once per failure, and once when it works again) and go on.
    Report,
}

/// What was watched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub frames: u64,
    pub faces: u64,
    /// Frames a source could not read (offline reports not counted).
    pub unreadable: u64,
}

/// The watcher could not go on.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Vision(#[from] VisionError),
    #[error("{0}")]
    Sink(#[from] std::io::Error),
}

/// What a source thread sends: a frame, an error, or its end.
enum Event {
    Frame(usize, Timed),
    Error(usize, VisionError),
    Ended,
}

/// Watches `beds` (each with its opened source, in the same order) until every source has
/// ended, classifying up to `batch` frames together.
pub fn watch(
    pipe: &mut Pipeline,
    beds: &[Bed],
    sources: Vec<Box<dyn FrameSource>>,
    batch: usize,
    on_model_error: OnModelError,
    sink: &mut dyn WatchSink,
) -> Result<Summary, WatchError> {
    let (tx, rx) = sync_channel::<Event>(64);
    for (i, mut src) in sources.into_iter().enumerate() {
        let tx = tx.clone();
        // A video file whose stream broke cannot go on; a live source reconnects, and an
        // unreadable image is one frame of a folder (the next file is read).
        let video_file =
            !images_only(&beds[i].inputs) && !beds[i].inputs.first().is_some_and(|u| is_live(u));
        std::thread::spawn(move || loop {
            let event = match src.next_frame() {
                None => Event::Ended,
                Some(Ok(t)) => Event::Frame(i, t),
                Some(Err(e)) => Event::Error(i, e),
            };
            let ended = matches!(event, Event::Ended);
            let broke = video_file && matches!(&event, Event::Error(_, VisionError::Source { .. }));
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
    let mut summary = Summary::default();
    let mut model_failing = vec![false; beds.len()];
    let mut open = beds.len();
    let mut pending: Vec<(GrayFrame, FrameMeta, usize)> = Vec::with_capacity(batch.max(1));
    let wait = Duration::from_millis(50);
    loop {
        let event = match rx.recv_timeout(wait) {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                open = 0;
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
                pending.push((t.frame, meta, i));
            }
            Some(Event::Error(i, e)) => {
                if !matches!(e, VisionError::Offline { .. }) {
                    summary.unreadable += 1;
                }
                sink.source_error(i, &e)?;
            }
            Some(Event::Ended) => open = open.saturating_sub(1),
            None => {}
        }
        let flush = pending.len() >= batch.max(1) || idle || open == 0;
        if flush && !pending.is_empty() {
            let which: Vec<usize> = pending.iter().map(|p| p.2).collect();
            let frames: Vec<(GrayFrame, FrameMeta)> =
                pending.drain(..).map(|(f, m, _)| (f, m)).collect();
            let seen = match pipe.observe_seen(&frames) {
                Ok(seen) => {
                    for &i in &which {
                        if std::mem::take(&mut model_failing[i]) {
                            sink.model_health(i, None);
                        }
                    }
                    seen
                }
                Err(e) if on_model_error == OnModelError::Report => {
                    let reason = e.to_string();
                    for &i in &which {
                        if !std::mem::replace(&mut model_failing[i], true) {
                            sink.model_health(i, Some(&reason));
                        }
                    }
                    vec![]
                }
                Err(e) => return Err(e.into()),
            };
            summary.frames += seen.len() as u64;
            summary.faces += seen.iter().filter(|s| s.observation.face.is_some()).count() as u64;
            sink.observed(&frames, seen)?;
        }
        if open == 0 && pending.is_empty() {
            return Ok(summary);
        }
    }
}
