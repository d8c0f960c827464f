//! Square views of a frame at any position, size and rotation: what the face detector looks at
//! (the bed area, a tile of it, or the neighbourhood of the tracked face, turned so that the face
//! stands upright) and how an aligned face is cut out. Frame coordinates are continuous: pixel
//! (i, j) covers [i, i+1) × [j, j+1).

use crate::GrayFrame;
use std::cell::OnceCell;

/// A frame and its halvings (2×2 averages), made when first asked for: a view several times
/// larger than its sample is read from the level whose pixels are closest to (not smaller than)
/// the sample's, so that sampling costs a few bilinear reads a pixel however large the view —
/// the finder samples the bed area and the tracked face on every frame.
pub struct Mipmap<'a> {
    frame: &'a GrayFrame,
    halves: [OnceCell<GrayFrame>; 2],
}

impl<'a> Mipmap<'a> {
    pub fn new(frame: &'a GrayFrame) -> Self {
        Mipmap {
            frame,
            halves: Default::default(),
        }
    }

    pub fn frame(&self) -> &'a GrayFrame {
        self.frame
    }

    /// Level `l`: the frame halved `l` times (0: the frame itself); `None` past the last level
    /// or when a halving would leave fewer than 16 pixels a side.
    fn level(&self, l: usize) -> Option<&GrayFrame> {
        if l == 0 {
            return Some(self.frame);
        }
        let below = self.level(l - 1)?;
        if below.width < 32 || below.height < 32 {
            return None;
        }
        let cell = self.halves.get(l - 1)?;
        Some(cell.get_or_init(|| halve(below)))
    }
}

/// Each 2×2 block averaged (rounded) into one pixel; an odd last row or column is dropped.
fn halve(f: &GrayFrame) -> GrayFrame {
    let (w, h) = (f.width as usize / 2, f.height as usize / 2);
    let src = f.width as usize;
    let mut pixels = Vec::with_capacity(w * h);
    for y in 0..h {
        let (r0, r1) = (&f.pixels[2 * y * src..], &f.pixels[(2 * y + 1) * src..]);
        for x in 0..w {
            let sum =
                r0[2 * x] as u16 + r0[2 * x + 1] as u16 + r1[2 * x] as u16 + r1[2 * x + 1] as u16;
            pixels.push(((sum + 2) / 4) as u8);
        }
    }
    GrayFrame {
        width: w as u32,
        height: h as u32,
        pixels,
    }
}

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

    /// The view as `out`×`out` gray pixels, read from the coarsest level of `mip` that still has
    /// at least one pixel per output pixel (see [`View::sample`]).
    pub fn sample_mip(&self, mip: &Mipmap, out: usize) -> Vec<u8> {
        let mut l = 0;
        while self.side / (1u32 << (l + 1)) as f32 >= out as f32 && mip.level(l + 1).is_some() {
            l += 1;
        }
        let k = (1u32 << l) as f32;
        let scaled = View {
            cx: self.cx / k,
            cy: self.cy / k,
            side: self.side / k,
            angle: self.angle,
        };
        match mip.level(l) {
            // A halving's pixel already averages four: a 2×2 grid of samples a pixel where
            // the frame's own pixels would take up to 3×3 (found faces on the bedside
            // benchmark as often, at a fifth of the cost).
            Some(level) if l > 0 => {
                let ss = ((scaled.side / out as f32).ceil() as usize).clamp(1, 3);
                scaled.sample_with(level, out, ss)
            }
            _ => self.sample(mip.frame, out),
        }
    }

    /// The view as `out`×`out` gray pixels. Bilinear, edges replicated; when the view is more
    /// than 1.5 times larger than `out`, each pixel averages a 2×2 or 3×3 grid of samples so that
    /// a downscaled frame does not alias (noise at night would otherwise become texture).
    pub fn sample(&self, frame: &GrayFrame, out: usize) -> Vec<u8> {
        let ss = ((self.side / out as f32).round() as usize).clamp(1, 3);
        self.sample_with(frame, out, ss)
    }

    /// The view as `out`×`out` pixels, each the mean of an `ss`×`ss` grid of bilinear samples.
    fn sample_with(&self, frame: &GrayFrame, out: usize, ss: usize) -> Vec<u8> {
        let k = self.side / (out * ss) as f32;
        let (sin, cos) = self.angle.sin_cos();
        let (w, h) = (frame.width as usize, frame.height as usize);
        let px = &frame.pixels;
        // The same sums as sampling each output pixel's ss×ss grid in turn, laid out so that
        // the per-sample rotation is two table reads: this runs on every view of every frame.
        let n = out * ss;
        let half = n as f32 / 2.0;
        let along: Vec<(f32, f32)> = (0..n)
            .map(|i| {
                let x = (i as f32 + 0.5 - half) * k;
                (x * cos, x * sin)
            })
            .collect();
        // Pixel centres sit at i + 0.5: sample (x, y) interpolates around (x - ½, y - ½).
        let (ox, oy) = (self.cx - 0.5, self.cy - 0.5);
        // A view wholly inside the frame (the usual case: a face's neighbourhood) needs no
        // edge handling per sample: the same values, without a clamp and three bounds checks
        // for each of the 37,000 or so samples a followed face's view takes.
        let reach = half * k * (sin.abs() + cos.abs());
        let inside = ox - reach >= 0.0
            && oy - reach >= 0.0
            && ox + reach < (w - 1) as f32
            && oy + reach < (h - 1) as f32;
        let mut sums = vec![0f32; out * out];
        for j in 0..n {
            let y = (j as f32 + 0.5 - half) * k;
            let (ys, yc) = (y * sin, y * cos);
            let row = &mut sums[(j / ss) * out..(j / ss + 1) * out];
            if inside {
                for (o, cells) in row.iter_mut().zip(along.chunks_exact(ss)) {
                    for &(xc, xs) in cells {
                        let (x, y) = (self.cx + xc - ys - 0.5, self.cy + xs + yc - 0.5);
                        // Both ≥ 0 here, so truncation is the floor.
                        let (x0, y0) = (x as i32 as usize, y as i32 as usize);
                        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
                        let at = y0 * w + x0;
                        let Some(q) = px.get(at..at + w + 2) else {
                            continue;
                        };
                        *o += mix([q[0], q[1], q[w], q[w + 1]], fx, fy);
                    }
                }
            } else {
                for (o, cells) in row.iter_mut().zip(along.chunks_exact(ss)) {
                    for &(xc, xs) in cells {
                        let (x, y) = (self.cx + xc - ys - 0.5, self.cy + xs + yc - 0.5);
                        *o += bilinear(px, w, h, x, y);
                    }
                }
            }
        }
        let cells = (ss * ss) as f32;
        // Sums are ≥ 0: adding ½ and truncating rounds, without a libm call per pixel.
        sums.iter().map(|&t| (t / cells + 0.5) as u8).collect()
    }
}

/// The `w`×`h` pixels `px` interpolated at (`x`, `y`) in pixel-centre coordinates, edges
/// replicated.
fn bilinear(px: &[u8], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let (x, y) = (x.clamp(0.0, (w - 1) as f32), y.clamp(0.0, (h - 1) as f32));
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let (row0, row1) = (y0 * w, y1 * w);
    mix(
        [px[row0 + x0], px[row0 + x1], px[row1 + x0], px[row1 + x1]],
        fx,
        fy,
    )
}

/// Top-left, top-right, bottom-left and bottom-right pixels weighted at (`fx`, `fy`) between
/// them: the one bilinear formula both sampling paths use.
#[inline(always)]
fn mix([tl, tr, bl, br]: [u8; 4], fx: f32, fy: f32) -> f32 {
    let t = tl as f32 * (1.0 - fx) + tr as f32 * fx;
    let b = bl as f32 * (1.0 - fx) + br as f32 * fx;
    t * (1.0 - fy) + b * fy
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

    /// A frame whose neighbouring pixels have nothing in common: any sample read from the
    /// wrong pixel shows.
    fn speckle(w: usize, h: usize) -> GrayFrame {
        GrayFrame::new(
            w as u32,
            h as u32,
            (0..w * h).map(|i| ((i * 7919) % 251) as u8).collect(),
        )
        .unwrap()
    }

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
    fn a_view_inside_the_frame_samples_as_the_edge_handling_does() {
        let (w, h) = (97, 71);
        let f = speckle(w, h);
        for (cx, cy, side, angle, out, ss) in [
            (48.0, 35.0, 40.0, 0.0, 16, 1),
            (50.3, 33.7, 44.0, 0.7, 16, 2),
            (45.0, 36.0, 50.0, -2.1, 12, 3),
            // Partly outside: the edge-replicating path.
            (8.0, 60.0, 30.0, 0.3, 10, 2),
        ] {
            let v = View {
                cx,
                cy,
                side,
                angle,
            };
            let k = side / (out * ss) as f32;
            let (sin, cos) = angle.sin_cos();
            let half = (out * ss) as f32 / 2.0;
            let mut want = vec![];
            for j in 0..out {
                for i in 0..out {
                    let mut sum = 0f32;
                    for b in 0..ss {
                        for a in 0..ss {
                            let x = ((i * ss + a) as f32 + 0.5 - half) * k;
                            let y = ((j * ss + b) as f32 + 0.5 - half) * k;
                            let (fx, fy) = (cx + x * cos - y * sin, cy + x * sin + y * cos);
                            sum += bilinear(&f.pixels, w, h, fx - 0.5, fy - 0.5);
                        }
                    }
                    want.push(sum / (ss * ss) as f32);
                }
            }
            let got = v.sample_with(&f, out, ss);
            for (g, t) in got.iter().zip(&want) {
                assert!(
                    (*g as f32 - t).abs() <= 0.51,
                    "{cx},{cy} {angle}: {g} vs {t}"
                );
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
        let f = speckle(64, 48);
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
    fn halvings_average_blocks_and_a_large_view_reads_them_like_the_frame() {
        let f = GrayFrame::new(
            65,
            48,
            (0..65 * 48)
                .map(|i| ((i % 65) * 3 + (i / 65) * 2) as u8)
                .collect(),
        )
        .unwrap();
        let h = halve(&f);
        assert_eq!(
            (h.width, h.height),
            (32, 24),
            "the odd last column is dropped"
        );
        let block = |x: usize, y: usize| {
            [(0, 0), (1, 0), (0, 1), (1, 1)]
                .iter()
                .map(|&(dx, dy)| f.pixels[(2 * y + dy) * 65 + 2 * x + dx] as u32)
                .sum::<u32>()
        };
        assert_eq!(h.pixels[5 * 32 + 7] as u32, (block(7, 5) + 2) / 4);
        // A smooth frame: a view four times its sample, turned, reads (nearly) the same from
        // the halvings as from the frame, and far fewer halvings than a level per view exist.
        let smooth = GrayFrame::new(
            640,
            480,
            (0..640 * 480)
                .map(|i| {
                    (100.0
                        + 80.0 * ((i % 640) as f32 / 90.0).sin() * ((i / 640) as f32 / 70.0).cos())
                        as u8
                })
                .collect(),
        )
        .unwrap();
        let mip = Mipmap::new(&smooth);
        for (side, angle) in [(440.0, 0.0), (320.0, 0.7), (130.0, -1.2)] {
            let v = View {
                cx: 300.0,
                cy: 220.0,
                side,
                angle,
            };
            let (a, b) = (v.sample(&smooth, 128), v.sample_mip(&mip, 128));
            let worst = a.iter().zip(&b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
            assert!(worst <= 3, "side {side}: {worst} gray levels apart");
        }
        assert!(mip.level(3).is_none());
        let tiny = GrayFrame::new(40, 40, vec![9; 1600]).unwrap();
        let m = Mipmap::new(&tiny);
        assert!(m.level(1).is_some() && m.level(2).is_none());
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
