//! Frame sources: image files and folders, and anything ffmpeg can open (video files, RTSP/HTTP
//! streams, V4L2 cameras) decoded by an `ffmpeg` child process into raw gray frames at a fixed
//! size and rate.

use crate::{GrayFrame, VisionError};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A frame with its capture time (ms since the epoch) and index in the source.
pub struct Timed {
    pub frame: GrayFrame,
    pub at_ms: i64,
    pub index: u64,
}

/// Something that yields frames until it ends.
pub trait FrameSource: Send {
    /// A name for messages.
    fn name(&self) -> String;
    /// The next frame; `Some(Err)` for a frame that could not be read (the source goes on),
    /// `None` at the end.
    fn next_frame(&mut self) -> Option<Result<Timed, VisionError>>;
}

pub use areya_core::time::now_ms;

pub const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "bmp"];

pub fn is_image_path(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Image files, in order (folders expanded, sorted).
pub struct ImageFiles {
    files: Vec<PathBuf>,
    next: usize,
}

impl ImageFiles {
    pub fn new(inputs: &[PathBuf]) -> Result<Self, VisionError> {
        let mut files = Vec::new();
        for p in inputs {
            if p.is_dir() {
                let rd = std::fs::read_dir(p)
                    .map_err(|e| VisionError::source(p.display().to_string(), e.to_string()))?;
                let mut v: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.is_file() && is_image_path(f))
                    .collect();
                v.sort();
                files.extend(v);
            } else if p.is_file() {
                files.push(p.clone());
            } else {
                return Err(VisionError::source(
                    p.display().to_string(),
                    "no such file or folder",
                ));
            }
        }
        Ok(ImageFiles { files, next: 0 })
    }
}

impl FrameSource for ImageFiles {
    fn name(&self) -> String {
        format!("{} image file(s)", self.files.len())
    }

    fn next_frame(&mut self) -> Option<Result<Timed, VisionError>> {
        let path = self.files.get(self.next)?.clone();
        let index = self.next as u64;
        self.next += 1;
        let read = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                image::load_from_memory(&b).map_err(|e| format!("not a readable image: {e}"))
            });
        Some(match read {
            Ok(img) => GrayFrame::from_image(&img).map(|frame| Timed {
                frame,
                at_ms: now_ms(),
                index,
            }),
            Err(e) => Err(VisionError::source(path.display().to_string(), e)),
        })
    }
}

/// Frames decoded by `ffmpeg` at `fps`, scaled and padded to `width`×`height`.
pub struct Ffmpeg {
    url: String,
    child: Child,
    width: u32,
    height: u32,
    fps: f64,
    index: u64,
    started_ms: i64,
    /// Stamp frames with the wall clock (live sources, and files played as a camera) rather
    /// than from the frame index.
    wall_clock: bool,
}

impl Ffmpeg {
    /// Starts ffmpeg on `url` (a file path, rtsp://, http(s)://, or /dev/videoN).
    pub fn open(url: &str, fps: f64, width: u32, height: u32) -> Result<Self, VisionError> {
        Ffmpeg::open_with(url, fps, width, height, &[])
    }

    /// [`Ffmpeg::open`] with extra input options (before `-i`).
    fn open_with(
        url: &str,
        fps: f64,
        width: u32,
        height: u32,
        input_options: &[&str],
    ) -> Result<Self, VisionError> {
        if !(fps > 0.0 && fps <= 60.0) {
            return Err(VisionError::config("fps", "must be in (0, 60]"));
        }
        if width < 32 || height < 32 || width > 4096 || height > 4096 {
            return Err(VisionError::config(
                "size",
                "must be between 32×32 and 4096×4096",
            ));
        }
        let live = url.contains("://") || url.starts_with("/dev/video");
        if !live && !Path::new(url).is_file() {
            return Err(VisionError::source(url, "no such file"));
        }
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error"]);
        if url.starts_with("rtsp://") {
            cmd.args(["-rtsp_transport", "tcp"]);
        }
        if url.starts_with("/dev/video") {
            cmd.args(["-f", "v4l2"]);
        }
        cmd.args(input_options);
        let filter = format!("fps={fps},scale={width}:{height}:force_original_aspect_ratio=decrease,pad={width}:{height}:(ow-iw)/2:(oh-ih)/2");
        cmd.args([
            "-i", url, "-vf", &filter, "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1",
        ]);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => VisionError::source(
                url,
                "ffmpeg is not installed (Debian: apt-get install ffmpeg; scripts/setup does it)",
            ),
            _ => VisionError::source(url, format!("cannot start ffmpeg: {e}")),
        })?;
        Ok(Ffmpeg {
            url: url.to_string(),
            child,
            width,
            height,
            fps,
            index: 0,
            started_ms: now_ms(),
            wall_clock: live,
        })
    }

    /// Opens a video file to be played as if it were a camera: read at its own frame rate
    /// and stamped with the wall clock, so a server (which refuses times far from its own
    /// clock) takes its observations as it takes a live camera's. Live sources open as usual.
    pub fn open_as_camera(
        url: &str,
        fps: f64,
        width: u32,
        height: u32,
    ) -> Result<Self, VisionError> {
        let live = url.contains("://") || url.starts_with("/dev/video");
        if live {
            return Ffmpeg::open(url, fps, width, height);
        }
        let mut f = Ffmpeg::open_with(url, fps, width, height, &["-re"])?;
        f.wall_clock = true;
        Ok(f)
    }

    fn stderr_tail(&mut self) -> String {
        let mut s = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s.lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string()
    }
}

impl FrameSource for Ffmpeg {
    fn name(&self) -> String {
        self.url.clone()
    }

    fn next_frame(&mut self) -> Option<Result<Timed, VisionError>> {
        let n = self.width as usize * self.height as usize;
        let mut buf = vec![0u8; n];
        let stdout = self.child.stdout.as_mut()?;
        let mut got = 0;
        while got < n {
            match stdout.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) => {
                    return Some(Err(VisionError::source(
                        &self.url,
                        format!("reading frames: {e}"),
                    )))
                }
            }
        }
        if got < n {
            // End of stream: a clean end of a file, or ffmpeg's error.
            let status = self.child.wait().ok();
            let tail = self.stderr_tail();
            return match status {
                Some(s) if s.success() && got == 0 => None,
                _ => Some(Err(VisionError::source(
                    &self.url,
                    if tail.is_empty() {
                        "stream ended unexpectedly".to_string()
                    } else {
                        format!("ffmpeg: {tail}")
                    },
                ))),
            };
        }
        let index = self.index;
        self.index += 1;
        // Files: time from the frame index (replay-exact); live streams: wall clock.
        let at_ms = if self.wall_clock {
            now_ms()
        } else {
            self.started_ms + (index as f64 * 1000.0 / self.fps) as i64
        };
        Some(
            GrayFrame::new(self.width, self.height, buf).map(|frame| Timed {
                frame,
                at_ms,
                index,
            }),
        )
    }
}

impl Drop for Ffmpeg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
