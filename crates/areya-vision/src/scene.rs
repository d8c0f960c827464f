//! Synthetic bedside frames: a face image lying on a pillow in a 640×480 bed scene, at a given
//! size, roll and light. The bedside benchmark (`examples/bedside_bench.rs`) and the tests build
//! their frames with it, so that every pose a bed camera sees can be measured on faces whose
//! emotion is known.

use crate::GrayFrame;
use areya_core::rng::SplitMix64;

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 480;

/// The bed area of every scene (x, y, w, h): what `--roi` would be for this camera.
pub const BED: (u32, u32, u32, u32) = (80, 40, 480, 440);

/// Where and how a face lies in a scene.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Centre of the face image, frame pixels.
    pub cx: f32,
    pub cy: f32,
    /// Side the face image is shown at, frame pixels.
    pub side: f32,
    /// Roll in degrees, clockwise on screen (the face's up direction turns to the image's
    /// right for positive angles).
    pub roll_deg: f32,
    /// Light: 1 by day, 0.25 at night.
    pub light: f32,
    /// Standard deviation of the sensor noise added after the light, in gray levels.
    pub noise: f32,
}

impl Pose {
    /// Upright at (`cx`, `cy`), `side` across, by day without noise.
    pub fn upright(cx: f32, cy: f32, side: f32) -> Pose {
        Pose {
            cx,
            cy,
            side,
            roll_deg: 0.0,
            light: 1.0,
            noise: 0.0,
        }
    }

    /// The same pose under `light` with sensor noise `noise`.
    pub fn lit(self, light: f32, noise: f32) -> Pose {
        Pose {
            light,
            noise,
            ..self
        }
    }
}

/// The scenes' random stream: Areya's version-stable SplitMix64, so that scenes repeat exactly.
#[derive(Debug, Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed))
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * (self.0.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u = self.range(1e-6, 1.0);
        let v = self.range(0.0, 1.0);
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
    }
}

/// The empty bed: wall, bed frame, sheet, pillow and a folded blanket; the same for every scene
/// (`seed` varies the blanket's folds).
pub fn bed(seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    // The benchmark's documented scenes were drawn with this range (close to, not exactly, 2π).
    #[allow(clippy::approx_constant)]
    let phase = rng.range(0.0, 6.28);
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let mut px = vec![0f32; w * h];
    let (bx, by, bw, bh) = (BED.0 as f32, BED.1 as f32, BED.2 as f32, BED.3 as f32);
    for y in 0..h {
        for x in 0..w {
            let (xf, yf) = (x as f32, y as f32);
            // Wall: a soft vertical gradient.
            let mut v = 95.0 + 25.0 * yf / h as f32;
            let in_bed = xf >= bx + 20.0 && xf < bx + bw - 20.0 && yf >= by + 10.0;
            if xf >= bx && xf < bx + bw && yf >= by && yf < by + bh && !in_bed {
                v = 70.0; // bed frame
            }
            if in_bed {
                v = 185.0; // sheet
                           // Pillow: a rounded light band at the head of the bed.
                let (px0, py0) = ((xf - 320.0) / 170.0, (yf - 170.0) / 95.0);
                let d = px0 * px0 + py0 * py0;
                if d < 1.0 {
                    v = 215.0 - 25.0 * d;
                }
                // Blanket over the lower part, with folds.
                if yf > 300.0 {
                    v = 140.0 + 18.0 * ((xf / 23.0 + phase).sin() * (yf / 41.0).cos());
                }
            }
            px[y * w + x] = v;
        }
    }
    px
}

/// `face` read bilinearly at (`u`, `v`), each in [0, 1) across the image: how a face image is
/// scaled into a synthetic frame.
pub fn face_at(face: &image::GrayImage, u: f32, v: f32) -> f32 {
    let (fw, fh) = (face.width() as f32, face.height() as f32);
    let (x, y) = (
        (u * fw - 0.5).clamp(0.0, fw - 1.0),
        (v * fh - 0.5).clamp(0.0, fh - 1.0),
    );
    let (x0, y0) = (x as u32, y as u32);
    let (x1, y1) = (
        (x0 + 1).min(face.width() - 1),
        (y0 + 1).min(face.height() - 1),
    );
    let (ax, ay) = (x - x0 as f32, y - y0 as f32);
    let p = |x, y| face.get_pixel(x, y)[0] as f32;
    (p(x0, y0) * (1.0 - ax) + p(x1, y0) * ax) * (1.0 - ay)
        + (p(x0, y1) * (1.0 - ax) + p(x1, y1) * ax) * ay
}

/// `face` (a gray face image, any size) placed on `background` (from [`bed`]) as `pose` says:
/// scaled, turned, blended in with a soft oval edge so that its square border does not show,
/// then lit and given sensor noise.
pub fn compose(
    background: &[f32],
    face: &image::GrayImage,
    pose: &Pose,
    rng: &mut Rng,
) -> GrayFrame {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let mut px = background.to_vec();
    let (sin, cos) = pose.roll_deg.to_radians().sin_cos();
    let half = pose.side / 2.0;
    let reach = (half * 1.5).ceil() as i64;
    let (cx, cy) = (pose.cx.round() as i64, pose.cy.round() as i64);
    for y in (cy - reach).max(0)..(cy + reach).min(h as i64) {
        for x in (cx - reach).max(0)..(cx + reach).min(w as i64) {
            // Frame offset → the face's own axes (turned back by the roll).
            let (dx, dy) = (x as f32 + 0.5 - pose.cx, y as f32 + 0.5 - pose.cy);
            let (fx, fy) = (dx * cos + dy * sin, -dx * sin + dy * cos);
            let (u, v) = (fx / pose.side + 0.5, fy / pose.side + 0.5);
            if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
                continue;
            }
            let alpha = areya_core::face::pillow_oval(u - 0.5, v - 0.5);
            if alpha > 0.0 {
                let i = y as usize * w + x as usize;
                px[i] = px[i] * (1.0 - alpha) + face_at(face, u, v) * alpha;
            }
        }
    }
    let pixels = px
        .iter()
        .map(|&v| {
            let n = if pose.noise > 0.0 {
                rng.normal() * pose.noise
            } else {
                0.0
            };
            (v * pose.light + n).round().clamp(0.0, 255.0) as u8
        })
        .collect();
    GrayFrame {
        width: WIDTH,
        height: HEIGHT,
        pixels,
    }
}
