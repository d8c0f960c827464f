//! Face detection with rustface (SeetaFace frontal model, embedded in the binary at build time
//! from the rustface crate). Frames are downscaled to `max_width` before detection and the
//! boxes mapped back, which is most of the speed.

use crate::{GrayFrame, VisionError};
use areya_core::FaceBox;
use serde::{Deserialize, Serialize};

/// SeetaFace's frontal face model, from the rustface crate's `model/` folder.
pub static SEETA_MODEL: &[u8] = include_bytes!(env!("AREYA_SEETA_MODEL"));

/// Detector settings (checked by [`DetectConfig::validate`]: rustface panics on bad values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectConfig {
    /// Smallest face to find, in frame pixels.
    pub min_face: u32,
    /// Image pyramid scale step in (0.1, 0.99).
    pub pyramid_scale: f32,
    /// Sliding-window step in pixels.
    pub step: u32,
    /// Score threshold (SeetaFace: 0.95 permissive … 4.5 strict).
    pub threshold: f64,
    /// Frames wider than this are downscaled for detection.
    pub max_width: u32,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            min_face: 40,
            pyramid_scale: 0.8,
            step: 4,
            threshold: 2.0,
            max_width: 320,
        }
    }
}

impl DetectConfig {
    pub fn validate(&self) -> Result<(), VisionError> {
        if self.min_face < 20 {
            return Err(VisionError::config("min_face", "must be ≥ 20 pixels"));
        }
        if !(0.1..0.99).contains(&self.pyramid_scale) {
            return Err(VisionError::config(
                "pyramid_scale",
                "must be in [0.1, 0.99)",
            ));
        }
        if self.step == 0 {
            return Err(VisionError::config("step", "must be ≥ 1"));
        }
        if self.max_width < 64 {
            return Err(VisionError::config("max_width", "must be ≥ 64"));
        }
        Ok(())
    }
}

/// `frame` scaled down to `w`×`h`: by averaging k×k blocks when the factor is a whole number
/// (640×480 → 320×240: a twentieth of the time of a general resize), else a triangle filter.
fn downscale(frame: &GrayFrame, w: u32, h: u32) -> Vec<u8> {
    let k = frame.width / w.max(1);
    if k >= 2 && frame.width == w * k && frame.height == h * k {
        let (k, fw) = (k as usize, frame.width as usize);
        let mut out = Vec::with_capacity(w as usize * h as usize);
        for by in 0..h as usize {
            let rows = &frame.pixels[by * k * fw..(by + 1) * k * fw];
            for bx in 0..w as usize {
                let sum: u32 = rows
                    .chunks_exact(fw)
                    .map(|row| {
                        row[bx * k..(bx + 1) * k]
                            .iter()
                            .map(|&p| u32::from(p))
                            .sum::<u32>()
                    })
                    .sum();
                out.push(((sum + (k * k / 2) as u32) / (k * k) as u32) as u8);
            }
        }
        return out;
    }
    image::imageops::resize(
        &frame.as_image(),
        w,
        h,
        image::imageops::FilterType::Triangle,
    )
    .into_raw()
}

pub struct FaceDetector {
    inner: Box<dyn rustface::Detector>,
    cfg: DetectConfig,
}

impl FaceDetector {
    pub fn new(cfg: DetectConfig) -> Result<Self, VisionError> {
        cfg.validate()?;
        let model = rustface::read_model(SEETA_MODEL)
            .map_err(|e| VisionError::Model(format!("SeetaFace model: {e}")))?;
        let mut inner = rustface::create_detector_with_model(model);
        inner.set_pyramid_scale_factor(cfg.pyramid_scale);
        inner.set_slide_window_step(cfg.step, cfg.step);
        inner.set_score_thresh(cfg.threshold);
        Ok(FaceDetector { inner, cfg })
    }

    /// Faces in `frame`, in frame pixels, highest score first.
    pub fn detect(&mut self, frame: &GrayFrame) -> Vec<FaceBox> {
        let scale = if frame.width > self.cfg.max_width {
            self.cfg.max_width as f32 / frame.width as f32
        } else {
            1.0
        };
        let small;
        let (w, h, px) = if scale < 1.0 {
            let (w, h) = (
                (frame.width as f32 * scale).round().max(1.0) as u32,
                (frame.height as f32 * scale).round().max(1.0) as u32,
            );
            small = downscale(frame, w, h);
            (w, h, small.as_slice())
        } else {
            (frame.width, frame.height, frame.pixels.as_slice())
        };
        // rustface needs ≥ 20 px windows and a frame at least that large.
        let min_face = ((self.cfg.min_face as f32 * scale).round() as u32).max(20);
        if w < min_face || h < min_face {
            return Vec::new();
        }
        self.inner.set_min_face_size(min_face);
        let data = rustface::ImageData::new(px, w, h);
        let mut faces: Vec<FaceBox> = self
            .inner
            .detect(&data)
            .into_iter()
            .map(|f| {
                let b = f.bbox();
                FaceBox {
                    x: (b.x() as f32 / scale).round() as i32,
                    y: (b.y() as f32 / scale).round() as i32,
                    width: (b.width() as f32 / scale).round() as u32,
                    height: (b.height() as f32 / scale).round() as u32,
                    score: f.score(),
                }
            })
            .collect();
        faces.sort_by(|a, b| b.score.total_cmp(&a.score));
        faces
    }
}

#[cfg(test)]
mod downscale_tests {
    use super::*;

    #[test]
    fn whole_factors_average_blocks_and_others_resize() {
        let px: Vec<u8> = (0..16).map(|i| i as u8 * 10).collect();
        let f = GrayFrame::new(4, 4, px).unwrap();
        // 2×2 blocks of [0 10 40 50] → 25, [20 30 60 70] → 45, [80 90 120 130] → 105, …
        assert_eq!(downscale(&f, 2, 2), vec![25, 45, 105, 125]);
        let f = GrayFrame::new(6, 4, vec![7; 24]).unwrap();
        assert_eq!(
            downscale(&f, 4, 3),
            vec![7; 12],
            "a general resize keeps a flat image flat"
        );
    }
}
