//! Square views of a frame at any position, size and rotation: what the face detector looks at
//! (the bed area, a tile of it, or the neighbourhood of the tracked face, turned so that the face
//! stands upright) and how an aligned face is cut out. Frame coordinates are continuous: pixel
//! (i, j) covers [i, i+1) × [j, j+1).

use crate::GrayFrame;

/// A square of `side` frame pixels centred at (`cx`, `cy`) whose own x axis points along
/// `angle` (radians, clockwise on screen since y points down). Sampled upright, a face whose
/// eyes lie along `angle` in the frame stands upright in the view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub cx: f32,
    pub cy: f32,
    pub side: f32,
    pub angle: f32,
}

impl View {
    /// The frame point under view point (`u`, `v`) of an `out`×`out` sampling.
    pub fn to_frame(&self, u: f32, v: f32, out: usize) -> (f32, f32) {
        let k = self.side / out as f32;
        let (x, y) = ((u - out as f32 / 2.0) * k, (v - out as f32 / 2.0) * k);
        let (sin, cos) = self.angle.sin_cos();
        (self.cx + x * cos - y * sin, self.cy + x * sin + y * cos)
    }

    /// The view as `out`×`out` gray pixels. Bilinear, edges replicated; when the view is more
    /// than 1.5 times larger than `out`, each pixel averages a 2×2 or 3×3 grid of samples so that
    /// a downscaled frame does not alias (noise at night would otherwise become texture).
    pub fn sample(&self, frame: &GrayFrame, out: usize) -> Vec<u8> {
        let ss = ((self.side / out as f32).round() as usize).clamp(1, 3);
        let k = self.side / (out * ss) as f32;
        let (sin, cos) = self.angle.sin_cos();
        let (w, h) = (frame.width as usize, frame.height as usize);
        let px = &frame.pixels;
        let at = |x: f32, y: f32| -> f32 {
            // Pixel centres sit at i + 0.5.
            let (x, y) = (
                (x - 0.5).clamp(0.0, (w - 1) as f32),
                (y - 0.5).clamp(0.0, (h - 1) as f32),
            );
            let (x0, y0) = (x as usize, y as usize);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (fx, fy) = (x - x0 as f32, y - y0 as f32);
            let row0 = y0 * w;
            let row1 = y1 * w;
            let top = px[row0 + x0] as f32 * (1.0 - fx) + px[row0 + x1] as f32 * fx;
            let bottom = px[row1 + x0] as f32 * (1.0 - fx) + px[row1 + x1] as f32 * fx;
            top * (1.0 - fy) + bottom * fy
        };
        let half = (out * ss) as f32 / 2.0;
        let mut v = Vec::with_capacity(out * out);
        for oy in 0..out {
            for ox in 0..out {
                let mut sum = 0.0;
                for sy in 0..ss {
                    let y = ((oy * ss + sy) as f32 + 0.5 - half) * k;
                    for sx in 0..ss {
                        let x = ((ox * ss + sx) as f32 + 0.5 - half) * k;
                        sum += at(self.cx + x * cos - y * sin, self.cy + x * sin + y * cos);
                    }
                }
                v.push((sum / (ss * ss) as f32).round() as u8);
            }
        }
        v
    }
}

/// An `n`×`n` sample of a view turned by `quarters` quarter turns: the sample of the same view
/// with its angle increased by `quarters` × 90°, without sampling the frame again.
pub fn turned(px: &[u8], n: usize, quarters: i32) -> Vec<u8> {
    let last = n - 1;
    let mut out = vec![0u8; n * n];
    for j in 0..n {
        for i in 0..n {
            let (si, sj) = match quarters.rem_euclid(4) {
                0 => (i, j),
                1 => (last - j, i),
                2 => (last - i, last - j),
                _ => (j, last - i),
            };
            out[j * n + i] = px[sj * n + si];
        }
    }
    out
}

/// `px` stretched so that its 1st and 99th percentiles span [-1, 1]: the face detector's input.
/// A dim night view (a quarter of the light, its faces a few gray levels deep) then looks to
/// the detector like a day view; a flat view stays flat instead of amplifying noise.
pub fn detector_input(px: &[u8]) -> Vec<f32> {
    let mut hist = [0usize; 256];
    for &p in px {
        hist[p as usize] += 1;
    }
    let n = px.len();
    let quantile = |q: f64| -> f32 {
        let target = (n as f64 * q) as usize;
        let mut seen = 0;
        for (v, &c) in hist.iter().enumerate() {
            seen += c;
            if seen > target {
                return v as f32;
            }
        }
        255.0
    };
    let (lo, hi) = (quantile(0.01), quantile(0.99));
    // Never stretch more than 4×: beyond that there is only noise to see.
    let span = (hi - lo).max(64.0);
    let mid = (lo + hi) / 2.0;
    px.iter()
        .map(|&p| ((p as f32 - mid) * 2.0 / span).clamp(-1.0, 1.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> GrayFrame {
        GrayFrame::new(64, 48, (0..64 * 48).map(|i| (i % 64 * 4) as u8).collect()).unwrap()
    }

    #[test]
    fn an_unrotated_view_on_the_pixel_grid_copies_pixels() {
        let f = ramp();
        let v = View {
            cx: 20.0,
            cy: 20.0,
            side: 16.0,
            angle: 0.0,
        };
        let s = v.sample(&f, 16);
        for y in 0..16 {
            for x in 0..16 {
                assert_eq!(s[y * 16 + x], f.pixels[(12 + y) * 64 + 12 + x], "{x},{y}");
            }
        }
    }

    #[test]
    fn a_quarter_turn_maps_the_frames_rows_to_the_views_columns() {
        let f = ramp();
        // Angle 90°: the view's x axis points down the frame, so moving right in the view moves
        // down in the frame (same column, same value) and moving down moves left.
        let v = View {
            cx: 32.0,
            cy: 24.0,
            side: 16.0,
            angle: std::f32::consts::FRAC_PI_2,
        };
        let s = v.sample(&f, 16);
        assert_eq!(s[0], s[15], "a view row runs along one frame column");
        assert!(s[15 * 16] < s[0], "view rows go left in the frame");
        let (x, y) = v.to_frame(16.0, 8.0, 16);
        assert!(
            (x - 32.0).abs() < 1e-4 && (y - 32.0).abs() < 1e-4,
            "{x},{y}"
        );
    }

    #[test]
    fn a_turned_sample_equals_sampling_the_turned_view() {
        let f = GrayFrame::new(
            64,
            48,
            (0..64 * 48).map(|i| ((i * 7919) % 251) as u8).collect(),
        )
        .unwrap();
        for side in [16.0, 40.0] {
            let v = View {
                cx: 30.0,
                cy: 22.0,
                side,
                angle: 0.0,
            };
            let px = v.sample(&f, 16);
            for q in [-1, 1, 2] {
                let turned_view = View {
                    angle: q as f32 * std::f32::consts::FRAC_PI_2,
                    ..v
                };
                assert_eq!(
                    turned(&px, 16, q),
                    turned_view.sample(&f, 16),
                    "side {side}, {q} quarter(s)"
                );
            }
        }
    }

    #[test]
    fn detector_input_stretches_dim_views_but_not_flat_ones() {
        let dim: Vec<u8> = (0..1000).map(|i| 20 + (i % 40) as u8).collect();
        let x = detector_input(&dim);
        let (lo, hi) = x
            .iter()
            .fold((1f32, -1f32), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(lo < -0.5 && hi > 0.5, "{lo}..{hi}");
        let flat = vec![100u8; 1000];
        assert!(detector_input(&flat).iter().all(|&v| v == 0.0));
    }
}
