//! BlazeFace short-range (Google MediaPipe, Apache-2.0; models/detector/README.md says where the
//! weights come from and how they were converted) run with tract, pure Rust: one 128×128 view
//! in, faces out as boxes with six landmarks. The network is convolutional, so the same
//! weights also run on a larger view ([`BlazeFace::at`]): a 256×256 view of a wide area sees
//! its small faces at the scale a 128×128 view of a quarter of it would, without seams.
//! Finding faces in a whole camera frame, at any rotation and size, is [`crate::bedside`]'s
//! job; this module only runs the network on a view.

use crate::VisionError;
use std::path::Path;
use tract_onnx::prelude::*;

/// The converted model, embedded in the binary so that no file or download is needed.
pub static EMBEDDED_ONNX: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../models/detector/face_detection_short_range.onnx"
));

/// The side of the square the network was trained on, in pixels.
pub const INPUT: usize = 128;
/// Overlap (IoU) above which two detections are one face (MediaPipe's setting for this model).
const MERGE_IOU: f32 = 0.3;

/// Landmark indices, in BlazeFace's order. "Right" is the person's own right: on an upright face
/// seen from the front it is on the image's left.
pub const RIGHT_EYE: usize = 0;
pub const LEFT_EYE: usize = 1;
pub const MOUTH: usize = 3;
pub const RIGHT_EAR: usize = 4;
pub const LEFT_EAR: usize = 5;

/// One face in a view, in view pixels (0..128), upright in the view's axes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub cx: f32,
    pub cy: f32,
    pub w: f32,
    pub h: f32,
    /// Probability that this is a face, 0..1.
    pub score: f32,
    /// Right eye, left eye, nose tip, mouth, right ear tragion, left ear tragion.
    pub landmarks: [(f32, f32); 6],
}

impl Detection {
    fn iou(&self, o: &Detection) -> f32 {
        let ix = (self.cx + self.w / 2.0).min(o.cx + o.w / 2.0)
            - (self.cx - self.w / 2.0).max(o.cx - o.w / 2.0);
        let iy = (self.cy + self.h / 2.0).min(o.cy + o.h / 2.0)
            - (self.cy - self.h / 2.0).max(o.cy - o.h / 2.0);
        if ix <= 0.0 || iy <= 0.0 {
            return 0.0;
        }
        let inter = ix * iy;
        inter / (self.w * self.h + o.w * o.h - inter)
    }
}

type Plan = std::sync::Arc<TypedRunnableModel>;

pub struct BlazeFace {
    plan: Plan,
    /// The model file's bytes and name, to build the same network at another size.
    bytes: std::sync::Arc<[u8]>,
    name: String,
    /// The side of the views this plan runs on, in pixels.
    side: usize,
    /// Anchor centres in view pixels.
    anchors: Vec<(f32, f32)>,
    /// Score below which a detection is dropped.
    pub threshold: f32,
}

impl BlazeFace {
    /// The embedded model.
    pub fn embedded() -> Result<Self, VisionError> {
        Self::from_bytes(EMBEDDED_ONNX.into(), "the embedded BlazeFace model", INPUT)
    }

    /// A model file (`--detector-model`); every failure names the file.
    pub fn from_file(path: &Path) -> Result<Self, VisionError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            VisionError::Model(format!("{name}: cannot read the face detector: {e}"))
        })?;
        Self::from_bytes(bytes.into(), &name, INPUT)
    }

    /// The same network run on views of `side`² pixels (a multiple of 16, 64 to 1024).
    pub fn at(&self, side: usize) -> Result<Self, VisionError> {
        if !(64..=1024).contains(&side) || !side.is_multiple_of(16) {
            return Err(VisionError::config(
                "detector view",
                "must be a multiple of 16 from 64 to 1024 pixels",
            ));
        }
        let mut net = Self::from_bytes(self.bytes.clone(), &self.name, side)?;
        net.threshold = self.threshold;
        Ok(net)
    }

    fn from_bytes(
        bytes: std::sync::Arc<[u8]>,
        name: &str,
        side: usize,
    ) -> Result<Self, VisionError> {
        let bad = |e: String| {
            VisionError::Model(format!(
                "{name}: not a BlazeFace short-range ONNX model ({e}); \
                 models/detector/convert.sh makes one"
            ))
        };
        // One gray channel (models/detector/gray.py folds MediaPipe's RGB input): a
        // conversion that still takes RGB is refused here, naming the script that makes one.
        let plan = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(&bytes[..]))
            .and_then(|m| m.with_input_fact(0, f32::fact([1, side, side, 1]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| bad(format!("{e:#}").lines().next().unwrap_or("").to_string()))?;
        let anchors = anchors(side);
        let count = anchors.len();
        let net = BlazeFace {
            plan,
            bytes,
            name: name.to_string(),
            side,
            anchors,
            threshold: 0.5,
        };
        // A model that loads but answers in other shapes is not this detector.
        net.raw(&vec![0.0; side * side])
            .map_err(|e| bad(e.to_string()))
            .and_then(|(r, s)| {
                if r.len() == count * 16 && s.len() == count {
                    Ok(())
                } else {
                    Err(bad(format!(
                        "outputs of {} and {} values, not {} and {}",
                        r.len(),
                        s.len(),
                        count * 16,
                        count
                    )))
                }
            })?;
        Ok(net)
    }

    /// The side of the square views this network runs on, in pixels.
    pub fn input(&self) -> usize {
        self.side
    }

    /// The network's raw outputs for a gray view in [-1, 1] (`input()`² values, row-major).
    fn raw(&self, gray: &[f32]) -> Result<(Vec<f32>, Vec<f32>), VisionError> {
        let side = self.side;
        let input = Tensor::from_shape(&[1, side, side, 1], gray)
            .map_err(|e| VisionError::Model(format!("face detector input: {e}")))?;
        let out = self
            .plan
            .run(tvec!(input.into()))
            .map_err(|e| VisionError::Model(format!("face detector: {e}")))?;
        let get = |i: usize| -> Result<Vec<f32>, VisionError> {
            out.get(i)
                .ok_or_else(|| VisionError::Model(format!("face detector: no output {i}")))?
                .try_as_plain_ram()
                .and_then(|v| v.as_slice::<f32>().map(<[f32]>::to_vec))
                .map_err(|e| VisionError::Model(format!("face detector output {i}: {e}")))
        };
        Ok((get(0)?, get(1)?))
    }

    /// Faces in a gray view (`input()`² values in [-1, 1]), best first, overlapping detections
    /// merged by their score-weighted mean (as MediaPipe does for this model).
    pub fn detect(&self, gray: &[f32]) -> Result<Vec<Detection>, VisionError> {
        self.detect_above(gray, self.threshold)
    }

    /// As [`BlazeFace::detect`], keeping detections scored at least `threshold`.
    pub fn detect_above(
        &self,
        gray: &[f32],
        threshold: f32,
    ) -> Result<Vec<Detection>, VisionError> {
        if gray.len() != self.side * self.side {
            return Err(VisionError::Frame(format!(
                "face detector view of {} values, not {}",
                gray.len(),
                self.side * self.side
            )));
        }
        let (reg, logits) = self.raw(gray)?;
        let mut found: Vec<Detection> = Vec::new();
        for (i, &(ax, ay)) in self.anchors.iter().enumerate() {
            let score = 1.0 / (1.0 + (-logits[i].clamp(-100.0, 100.0)).exp());
            if score < threshold {
                continue;
            }
            let r = &reg[i * 16..(i + 1) * 16];
            let mut landmarks = [(0.0, 0.0); 6];
            for (k, l) in landmarks.iter_mut().enumerate() {
                *l = (ax + r[4 + 2 * k], ay + r[5 + 2 * k]);
            }
            found.push(Detection {
                cx: ax + r[0],
                cy: ay + r[1],
                w: r[2],
                h: r[3],
                score,
                landmarks,
            });
        }
        Ok(merge(found))
    }
}

/// MediaPipe's SSD anchors for this model on a `side`² view: strides 8 (16×16 cells at 128,
/// 2 anchors each) and 16 (8×8 cells, 6 anchors each; three layers of that stride are merged),
/// centred in their cells. The model's regressors are offsets in input pixels from these centres.
fn anchors(side: usize) -> Vec<(f32, f32)> {
    let mut v = Vec::new();
    for (stride, per_cell) in [(8usize, 2usize), (16, 6)] {
        let cells = side / stride;
        let step = stride as f32;
        for y in 0..cells {
            for x in 0..cells {
                for _ in 0..per_cell {
                    v.push(((x as f32 + 0.5) * step, (y as f32 + 0.5) * step));
                }
            }
        }
    }
    v
}

/// Weighted non-maximum suppression: the best detection and all that overlap it become one,
/// the score-weighted mean of their boxes and landmarks with the best one's score.
fn merge(mut found: Vec<Detection>) -> Vec<Detection> {
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(best) = found.first().copied() {
        let (same, rest): (Vec<Detection>, Vec<Detection>) =
            found.into_iter().partition(|d| best.iou(d) > MERGE_IOU);
        let total: f32 = same.iter().map(|d| d.score).sum();
        let mut m = Detection {
            cx: 0.0,
            cy: 0.0,
            w: 0.0,
            h: 0.0,
            score: best.score,
            landmarks: [(0.0, 0.0); 6],
        };
        for d in &same {
            let k = d.score / total;
            m.cx += k * d.cx;
            m.cy += k * d.cy;
            m.w += k * d.w;
            m.h += k * d.h;
            for (a, b) in m.landmarks.iter_mut().zip(d.landmarks) {
                a.0 += k * b.0;
                a.1 += k * b.1;
            }
        }
        out.push(m);
        found = rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_cover_the_view_as_mediapipe_lays_them_out() {
        let a = anchors(INPUT);
        assert_eq!(a.len(), 896);
        assert_eq!(a[0], (4.0, 4.0));
        assert_eq!(a[1], (4.0, 4.0));
        assert_eq!(a[2], (12.0, 4.0));
        assert_eq!(a[512], (8.0, 8.0));
        assert_eq!(a[895], (120.0, 120.0));
        // Twice the side: four times the cells at the same strides.
        let b = anchors(256);
        assert_eq!(b.len(), 4 * 896);
        assert_eq!(b[2 * 32], (4.0, 12.0));
        assert_eq!(b[4 * 896 - 1], (248.0, 248.0));
    }

    #[test]
    fn overlapping_detections_merge_into_their_weighted_mean() {
        let d = |cx: f32, score: f32| Detection {
            cx,
            cy: 50.0,
            w: 20.0,
            h: 20.0,
            score,
            landmarks: [(cx, 50.0); 6],
        };
        let out = merge(vec![d(52.0, 0.6), d(50.0, 0.9), d(100.0, 0.7)]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        assert!((out[0].cx - (50.0 * 0.9 + 52.0 * 0.6) / 1.5).abs() < 1e-4);
        assert_eq!(out[1].cx, 100.0);
    }

    #[test]
    fn the_embedded_model_loads_and_a_blank_view_has_no_face() {
        let net = BlazeFace::embedded().unwrap();
        assert!(net.detect(&vec![0.0; INPUT * INPUT]).unwrap().is_empty());
        let big = net.at(256).unwrap();
        assert_eq!(big.input(), 256);
        assert!(big.detect(&vec![0.0; 256 * 256]).unwrap().is_empty());
        // A view of the wrong size is refused, not read past its end.
        assert!(big.detect(&vec![0.0; INPUT * INPUT]).is_err());
        assert!(net.at(200).is_err());
    }
}
