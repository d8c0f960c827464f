//! A live source (RTSP/HTTP stream, camera) that reopens itself when it drops: retries with a
//! backoff that doubles up to a maximum, reports [`VisionError::Offline`] once when it has
//! been without frames for a set time (and again after it came back and dropped again), and
//! numbers frames on across reconnects. It never ends by itself: a live camera is watched
//! until the process is stopped.

use crate::source::{FrameSource, Timed};
use crate::VisionError;
use std::time::{Duration, Instant};

/// Opens (or reopens) the underlying source.
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn FrameSource>, VisionError> + Send>;

/// Backoff and offline settings.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub initial: Duration,
    pub max: Duration,
    /// Without frames this long, the source is reported offline.
    pub offline_after: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            offline_after: Duration::from_secs(30),
        }
    }
}

pub struct Reconnecting {
    name: String,
    open: Opener,
    current: Option<Box<dyn FrameSource>>,
    retry: Retry,
    backoff: Duration,
    last_frame: Instant,
    reported: bool,
    next_index: u64,
    /// Why the last attempt failed (for the offline report).
    last_error: Option<String>,
}

impl Reconnecting {
    pub fn new(name: impl Into<String>, retry: Retry, open: Opener) -> Self {
        Reconnecting {
            name: name.into(),
            open,
            current: None,
            retry,
            backoff: retry.initial,
            last_frame: Instant::now(),
            reported: false,
            next_index: 0,
            last_error: None,
        }
    }

    /// Waits before the next attempt; says whether the offline report is due now.
    fn wait(&mut self) -> bool {
        std::thread::sleep(self.backoff);
        self.backoff = (self.backoff * 2).min(self.retry.max);
        let due = !self.reported && self.last_frame.elapsed() >= self.retry.offline_after;
        if due {
            self.reported = true;
        }
        due
    }
}

impl FrameSource for Reconnecting {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn next_frame(&mut self) -> Option<Result<Timed, VisionError>> {
        loop {
            if self.current.is_none() {
                match (self.open)() {
                    Ok(s) => self.current = Some(s),
                    Err(e) => {
                        self.last_error = Some(e.to_string());
                        if self.wait() {
                            return Some(Err(self.offline()));
                        }
                        continue;
                    }
                }
            }
            let next = self.current.as_mut().and_then(|s| s.next_frame());
            match next {
                Some(Ok(mut t)) => {
                    self.backoff = self.retry.initial;
                    self.last_frame = Instant::now();
                    self.reported = false;
                    t.index = self.next_index;
                    self.next_index += 1;
                    return Some(Ok(t));
                }
                Some(Err(VisionError::Frame(m))) => {
                    // One bad frame: the stream itself is fine.
                    return Some(Err(VisionError::Frame(m)));
                }
                Some(Err(e)) => {
                    self.last_error = Some(e.to_string());
                    self.current = None;
                }
                None => {
                    self.last_error = Some("the stream ended".into());
                    self.current = None;
                }
            }
            if self.wait() {
                return Some(Err(self.offline()));
            }
        }
    }
}

impl Reconnecting {
    fn offline(&self) -> VisionError {
        tracing::warn!(
            "{}: offline ({})",
            self.name,
            self.last_error.as_deref().unwrap_or("no frames")
        );
        VisionError::Offline {
            source_name: self.name.clone(),
            seconds: self.last_frame.elapsed().as_secs(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GrayFrame;
    use std::sync::{Arc, Mutex};

    /// Yields `frames` frames, then ends (a dropped stream).
    struct Burst(u64);

    impl FrameSource for Burst {
        fn name(&self) -> String {
            "burst".into()
        }
        fn next_frame(&mut self) -> Option<Result<Timed, VisionError>> {
            if self.0 == 0 {
                return None;
            }
            self.0 -= 1;
            Some(GrayFrame::new(2, 2, vec![0; 4]).map(|frame| Timed {
                frame,
                at_ms: 0,
                index: 0,
            }))
        }
    }

    #[test]
    fn a_dropped_stream_reconnects_reports_offline_once_and_numbers_frames_on() {
        // Opens: 1st gives 3 frames; then 4 failed attempts (the camera is down); then 2 frames.
        let attempts = Arc::new(Mutex::new(0));
        let a = attempts.clone();
        let open: Opener = Box::new(move || {
            let mut n = a.lock().unwrap();
            *n += 1;
            match *n {
                1 => Ok(Box::new(Burst(3)) as Box<dyn FrameSource>),
                2..=5 => Err(VisionError::source("cam", "connection refused")),
                _ => Ok(Box::new(Burst(2)) as Box<dyn FrameSource>),
            }
        });
        let retry = Retry {
            initial: Duration::from_millis(2),
            max: Duration::from_millis(8),
            offline_after: Duration::from_millis(15),
        };
        let mut s = Reconnecting::new("cam", retry, open);
        let mut got = Vec::new();
        for _ in 0..6 {
            match s.next_frame() {
                Some(Ok(t)) => got.push(format!("frame {}", t.index)),
                Some(Err(VisionError::Offline { .. })) => got.push("offline".into()),
                other => panic!("{:?}", other.map(|r| r.map(|t| t.index))),
            }
        }
        assert_eq!(
            got,
            ["frame 0", "frame 1", "frame 2", "offline", "frame 3", "frame 4"]
        );
        assert!(*attempts.lock().unwrap() >= 6);
    }
}
