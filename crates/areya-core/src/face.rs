//! A detected face's box in frame pixel coordinates.

use serde::{Deserialize, Serialize};

/// An axis-aligned face box in pixels of the frame it was found in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceBox {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    /// The detector's score for this box (higher is more certain).
    pub score: f64,
}

impl FaceBox {
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
}
