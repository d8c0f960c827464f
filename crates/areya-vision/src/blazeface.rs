//! BlazeFace short-range (Google MediaPipe, Apache-2.0; models/detector/README.md says where the
//! weights come from and how they were converted) run with tract, pure Rust: one 128×128 view
//! in, faces out as boxes with six landmarks. Finding faces in a whole camera frame, at any
//! rotation and size, is [`crate::bedside`]'s job; this module only runs the network on a view.

use crate::VisionError;
use std::path::Path;
use tract_onnx::prelude::*;

/// The converted model, embedded in the binary so that no file or download is needed.
pub static EMBEDDED_ONNX: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../models/detector/face_detection_short_range.onnx"
));

/// The side of the square the network looks at, in pixels.
pub const INPUT: usize = 128;
const ANCHORS: usize = 896;
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
    /// Anchor centres in view pixels.
    anchors: Vec<(f32, f32)>,
    /// Score below which a detection is dropped.
    pub threshold: f32,
}

impl BlazeFace {
    /// The embedded model.
    pub fn embedded() -> Result<Self, VisionError> {
        Self::from_bytes(EMBEDDED_ONNX, "the embedded BlazeFace model")
    }

    /// A model file (`--detector-model`); every failure names the file.
    pub fn from_file(path: &Path) -> Result<Self, VisionError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            VisionError::Model(format!("{name}: cannot read the face detector: {e}"))
        })?;
        Self::from_bytes(&bytes, &name)
    }

    fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, VisionError> {
        let bad = |e: String| {
            VisionError::Model(format!(
                "{name}: not a BlazeFace short-range ONNX model ({e}); \
                 models/detector/convert.sh makes one"
            ))
        };
        // One gray channel (models/detector/gray.py folds MediaPipe's RGB input): a
        // conversion that still takes RGB is refused here, naming the script that makes one.
        let plan = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .and_then(|m| m.with_input_fact(0, f32::fact([1, INPUT, INPUT, 1]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| bad(format!("{e:#}").lines().next().unwrap_or("").to_string()))?;
        let net = BlazeFace {
            plan,
            anchors: anchors(),
            threshold: 0.5,
        };
        // A model that loads but answers in other shapes is not this detector.
        net.raw(&vec![0.0; INPUT * INPUT])
            .map_err(|e| bad(e.to_string()))
            .and_then(|(r, s)| {
                if r.len() == ANCHORS * 16 && s.len() == ANCHORS {
                    Ok(())
                } else {
                    Err(bad(format!(
                        "outputs of {} and {} values, not {} and {}",
                        r.len(),
                        s.len(),
                        ANCHORS * 16,
                        ANCHORS
                    )))
                }
            })?;
        Ok(net)
    }

    /// The network's raw outputs for a gray view in [-1, 1] (`INPUT`² values, row-major).
    fn raw(&self, gray: &[f32]) -> Result<(Vec<f32>, Vec<f32>), VisionError> {
        let input = Tensor::from_shape(&[1, INPUT, INPUT, 1], gray)
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

    /// Faces in a gray view (`INPUT`² values in [-1, 1]), best first, overlapping detections
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
        if gray.len() != INPUT * INPUT {
            return Err(VisionError::Frame(format!(
                "face detector view of {} values, not {}",
                gray.len(),
                INPUT * INPUT
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

/// MediaPipe's SSD anchors for this model: strides 8 (16×16 cells, 2 anchors each) and 16
/// (8×8 cells, 6 anchors each; three layers of that stride are merged), centred in their cells.
/// The model's regressors are offsets in input pixels from these centres.
fn anchors() -> Vec<(f32, f32)> {
    let mut v = Vec::with_capacity(ANCHORS);
    for (cells, per_cell) in [(16usize, 2usize), (8, 6)] {
        let step = INPUT as f32 / cells as f32;
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
        let a = anchors();
        assert_eq!(a.len(), ANCHORS);
        assert_eq!(a[0], (4.0, 4.0));
        assert_eq!(a[1], (4.0, 4.0));
        assert_eq!(a[2], (12.0, 4.0));
        assert_eq!(a[512], (8.0, 8.0));
        assert_eq!(a[ANCHORS - 1], (120.0, 120.0));
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
    }
}
