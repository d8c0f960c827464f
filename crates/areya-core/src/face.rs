//! A detected face's box in frame pixel coordinates.

use serde::{Deserialize, Serialize};

/// An axis-aligned face box in pixels of the frame it was found in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaceBox {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    /// The detector's score for this box (higher is more certain).
    pub score: f64,
}

impl FaceBox {
    /// A square box `side` pixels across with its top-left corner at (`x`, `y`).
    pub fn square(x: i32, y: i32, side: u32, score: f64) -> Self {
        FaceBox {
            x,
            y,
            width: side,
            height: side,
            score,
        }
    }

    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Intersection over union of two boxes, in [0, 1].
    pub fn iou(&self, other: &FaceBox) -> f64 {
        let x0 = self.x.max(other.x) as i64;
        let y0 = self.y.max(other.y) as i64;
        let x1 = (self.x as i64 + self.width as i64).min(other.x as i64 + other.width as i64);
        let y1 = (self.y as i64 + self.height as i64).min(other.y as i64 + other.height as i64);
        let inter = ((x1 - x0).max(0) * (y1 - y0).max(0)) as f64;
        let union = self.area() as f64 + other.area() as f64 - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

/// The face detectors Areya runs. A [`FaceCrop`] is measured against one of them, since each
/// draws its box differently around the same face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaceDetectorKind {
    /// BlazeFace short-range (MediaPipe) with Areya's rotation search, alignment and tracking:
    /// the bedside detector.
    BlazeFace,
    /// SeetaFace's frontal cascade (the rustface crate): upright faces only.
    SeetaFace,
}

impl FaceDetectorKind {
    pub const ALL: [FaceDetectorKind; 2] =
        [FaceDetectorKind::BlazeFace, FaceDetectorKind::SeetaFace];

    pub fn as_str(self) -> &'static str {
        match self {
            FaceDetectorKind::BlazeFace => "blazeface",
            FaceDetectorKind::SeetaFace => "seetaface",
        }
    }
}

impl std::fmt::Display for FaceDetectorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FaceDetectorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not a face detector (blazeface, seetaface)"))
    }
}

/// How a model's training images frame a face, relative to the face detector's box: the crop
/// that reproduces that framing is a square `scale` × the box's longer side, centred `dx`, `dy`
/// box sides (right, down) from the box's centre. Measured once per model on its training
/// images (`areya fit-crop`) and stored in its `config.json`; the vision pipeline crops live
/// faces with it, so the model sees them framed as in training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceCrop {
    pub scale: f64,
    pub dx: f64,
    pub dy: f64,
}

/// The measured crop for faces found by `detector`: `crop` if it was measured against that
/// detector (`measured_with`; none named means SeetaFace, the only one before there was a
/// choice), else none, and the caller frames faces with a fixed margin.
pub fn face_crop_for(
    crop: Option<FaceCrop>,
    measured_with: Option<FaceDetectorKind>,
    detector: FaceDetectorKind,
) -> Option<FaceCrop> {
    crop.filter(|_| measured_with.unwrap_or(FaceDetectorKind::SeetaFace) == detector)
}

/// A [`FaceCrop`] outside what any detector/dataset pair produces.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("face crop: {0}")]
pub struct InvalidFaceCrop(String);

impl FaceCrop {
    /// A square around the box with `margin` × its side added on each side, centred on it.
    pub fn margin(margin: f64) -> Self {
        FaceCrop {
            scale: 1.0 + 2.0 * margin,
            dx: 0.0,
            dy: 0.0,
        }
    }

    /// Checks the ranges: `scale` in [0.5, 4], `dx` and `dy` in [-1, 1].
    pub fn new(scale: f64, dx: f64, dy: f64) -> Result<Self, InvalidFaceCrop> {
        if !(0.5..=4.0).contains(&scale) {
            return Err(InvalidFaceCrop(format!("scale {scale} is not in [0.5, 4]")));
        }
        for (name, v) in [("dx", dx), ("dy", dy)] {
            if !(-1.0..=1.0).contains(&v) {
                return Err(InvalidFaceCrop(format!("{name} {v} is not in [-1, 1]")));
            }
        }
        Ok(FaceCrop { scale, dx, dy })
    }

    /// The crop square for `face`: (left, top, side) in frame pixels (may reach outside it).
    pub fn square(&self, face: &FaceBox) -> (i64, i64, i64) {
        let s = face.width.max(face.height) as f64;
        let side = (s * self.scale).round().max(1.0);
        let cx = face.x as f64 + face.width as f64 / 2.0 + self.dx * s;
        let cy = face.y as f64 + face.height as f64 / 2.0 + self.dy * s;
        (
            (cx - side / 2.0).round() as i64,
            (cy - side / 2.0).round() as i64,
            side as i64,
        )
    }

    /// The crop that maps `face` onto `frame` (the square the training image covered).
    pub fn between(face: &FaceBox, frame: (i64, i64, i64)) -> (f64, f64, f64) {
        let s = face.width.max(face.height).max(1) as f64;
        let (fx, fy, side) = frame;
        let cx = fx as f64 + side as f64 / 2.0;
        let cy = fy as f64 + side as f64 / 2.0;
        (
            side as f64 / s,
            (cx - (face.x as f64 + face.width as f64 / 2.0)) / s,
            (cy - (face.y as f64 + face.height as f64 / 2.0)) / s,
        )
    }
}

/// How much of a face shows at an offset (`dx`, `dy`) from its image's centre, in image sides,
/// when it lies on a pillow: all of it within 0.42 of the side (the oval 0.9 as wide as high),
/// none from 0.5. The training perturbation `pillow` and the bedside scenes (`areya_vision::scene`) blend
/// faces into a pillow with it.
pub fn pillow_oval(dx: f32, dy: f32) -> f32 {
    let r = (dx * dx / 0.9 + dy * dy).sqrt();
    ((0.5 - r) / 0.08).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: i32, y: i32, w: u32, h: u32) -> FaceBox {
        FaceBox {
            x,
            y,
            width: w,
            height: h,
            score: 1.0,
        }
    }

    #[test]
    fn iou_cases() {
        let cases = [
            (b(0, 0, 10, 10), b(0, 0, 10, 10), 1.0),
            (b(0, 0, 10, 10), b(20, 20, 5, 5), 0.0),
            (b(0, 0, 10, 10), b(5, 0, 10, 10), 50.0 / 150.0),
            (b(0, 0, 0, 0), b(0, 0, 0, 0), 0.0),
        ];
        for (a, c, want) in cases {
            assert!((a.iou(&c) - want).abs() < 1e-12, "{a:?} {c:?}");
        }
    }

    #[test]
    fn crop_squares_and_their_inverse() {
        let face = b(100, 50, 40, 40);
        let cases = [
            (FaceCrop::margin(0.0), (100, 50, 40)),
            (FaceCrop::margin(0.25), (90, 40, 60)),
            (FaceCrop::new(1.5, 0.0, 0.1).unwrap(), (90, 44, 60)),
            (FaceCrop::new(2.0, -0.25, 0.0).unwrap(), (70, 30, 80)),
        ];
        for (crop, want) in cases {
            assert_eq!(crop.square(&face), want, "{crop:?}");
            let (scale, dx, dy) = FaceCrop::between(&face, want);
            assert!(
                (scale - crop.scale).abs() < 1e-9
                    && (dx - crop.dx).abs() < 1e-9
                    && (dy - crop.dy).abs() < 1e-9,
                "{crop:?}: {scale} {dx} {dy}"
            );
        }
    }

    #[test]
    fn face_crops_out_of_range_are_refused() {
        for (scale, dx, dy, want) in [
            (0.4, 0.0, 0.0, "scale 0.4"),
            (5.0, 0.0, 0.0, "scale 5"),
            (f64::NAN, 0.0, 0.0, "scale NaN"),
            (1.2, 1.5, 0.0, "dx 1.5"),
            (1.2, 0.0, -2.0, "dy -2"),
        ] {
            let err = FaceCrop::new(scale, dx, dy).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
        assert!(FaceCrop::new(1.3, -0.05, 0.12).is_ok());
    }
}
