//! Training-time augmentation, the notebook's `ImageDataGenerator` done right: random rotation,
//! shear, zoom, shift and horizontal flip, one affine warp per image (imageproc, bilinear, edge
//! pixels replicated like Keras' `fill_mode="nearest"`), then optional random erasing (Zhong et
//! al., 2017: one rectangle of noise), Gaussian blur and a random tone curve (gamma), seeded per
//! (seed, epoch, image) so the result does not depend on thread scheduling. Also builds the
//! `[B, 1, S, S]` batches the models eat.

use crate::dataset::ImageSet;
use crate::rng::{SplitMix64, STREAM_AUGMENT};
use image::{GrayImage, Luma};
use imageproc::geometric_transformations::{warp, Border, Interpolation, Projection};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// Augmentation strengths; 0 (or `false`) turns each one off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Rotation drawn uniformly from ±`rotation` degrees.
    pub rotation: f32,
    /// Shear factor drawn from ±`shear` (x' = x + s·y). Keras read its `shear_range=0.2` as
    /// 0.2 *degrees*, which does nothing; Areya uses it as the factor it was meant to be.
    pub shear: f32,
    /// Zoom drawn from [1−zoom, 1+zoom], independently along x and y (as Keras does).
    pub zoom: f32,
    /// Mirror left–right with probability ½.
    pub hflip: bool,
    /// Translation drawn from ±`shift`·size, independently along x and y (Keras'
    /// `width_shift_range`/`height_shift_range` as a fraction).
    #[serde(default)]
    pub shift: f32,
    /// Probability of random erasing: one rectangle of 2–33% of the image, aspect ratio
    /// 0.3–3.3, filled with uniform noise (the paper's best variant).
    #[serde(default)]
    pub erase: f32,
    /// Gaussian blur: half the images are blurred with σ drawn uniformly from (0, `blur`]
    /// pixels, the rest stay sharp. Faces from a camera come softer than FER-2013's (focus,
    /// compression, the resize to 48 px), and softness alone moves the model's calm faces to
    /// sad.
    #[serde(default)]
    pub blur: f32,
    /// Tone curve: every image's gray levels become 255·(v/255)^γ with γ drawn log-uniformly
    /// from [1/`gamma`, `gamma`] (1 = off). A camera's exposure and tone mapping bend mid-tones
    /// in ways the network's input standardization, which undoes only brightness and contrast,
    /// cannot.
    #[serde(default = "no_gamma")]
    pub gamma: f32,
    /// Probability of a new surround: everything outside a random soft ellipse around the face
    /// becomes a random flat gray with a gentle gradient. A camera's face crop holds whatever lies
    /// around the head — a pillow, a sheet, the wall — where FER-2013's crops hold the photo's
    /// own background; with none of this the shipped model lost 4.4 points on val faces whose
    /// corners were replaced by a pillow's gray (docs/benchmarks.md, "Bedside vision").
    #[serde(default)]
    pub surround: f32,
}

fn no_gamma() -> f32 {
    1.0
}

/// Random erasing's rectangle: area fraction and aspect-ratio ranges (Zhong et al., 2017).
const ERASE_AREA: (f64, f64) = (0.02, 0.33);
const ERASE_RATIO: (f64, f64) = (0.3, 1.0 / 0.3);

impl Augment {
    /// The notebook's values: rotation 40°, shear 0.2, zoom 0.2, horizontal flip.
    pub const NOTEBOOK: Augment = Augment {
        rotation: 40.0,
        shear: 0.2,
        zoom: 0.2,
        hflip: true,
        shift: 0.0,
        erase: 0.0,
        blur: 0.0,
        gamma: 1.0,
        surround: 0.0,
    };
    pub const NONE: Augment = Augment {
        rotation: 0.0,
        shear: 0.0,
        zoom: 0.0,
        hflip: false,
        shift: 0.0,
        erase: 0.0,
        blur: 0.0,
        gamma: 1.0,
        surround: 0.0,
    };

    pub fn is_geometric(&self) -> bool {
        self.rotation != 0.0 || self.shear != 0.0 || self.zoom != 0.0 || self.shift != 0.0
    }

    /// Augments one `size`×`size` image with the stream `rng`, writing into `out`.
    pub fn apply(&self, src: &[u8], size: u32, rng: &mut SplitMix64, out: &mut [u8]) {
        // Always draw the same numbers so each option's draw does not shift the others (the
        // first five are those of the runs made before shift and erasing existed).
        let angle = rng.uniform(-1.0, 1.0) as f32 * self.rotation.to_radians();
        let shear = rng.uniform(-1.0, 1.0) as f32 * self.shear;
        let zx = 1.0 + rng.uniform(-1.0, 1.0) as f32 * self.zoom;
        let zy = 1.0 + rng.uniform(-1.0, 1.0) as f32 * self.zoom;
        let flip = self.hflip && rng.next_f64() < 0.5;
        let tx = rng.uniform(-1.0, 1.0) as f32 * self.shift * size as f32;
        let ty = rng.uniform(-1.0, 1.0) as f32 * self.shift * size as f32;
        let erase = rng.next_f64() < self.erase as f64;
        // (Blur draws last, after erasing's rectangle, so that runs from before it existed
        // augment as they did.)
        if self.is_geometric() {
            let c = (size as f32 - 1.0) / 2.0;
            let (sin, cos) = angle.sin_cos();
            // Forward map input → output about the centre: R · Shear · Zoom.
            let m = [
                cos * zx,
                (cos * shear - sin) * zy,
                0.0,
                sin * zx,
                (sin * shear + cos) * zy,
                0.0,
                0.0,
                0.0,
                1.0,
            ];
            let p = Projection::translate(c + tx, c + ty)
                * Projection::from_matrix(m).unwrap_or_else(|| Projection::scale(1.0, 1.0))
                * Projection::translate(-c, -c);
            // Zoom factors are ≥ 1 − zoom > 0 for zoom < 1 (checked by the config), so the
            // matrix is invertible; the fallback above is only for degenerate user values.
            let img = GrayImage::from_raw(size, size, src.to_vec()).expect("size×size buffer");
            let warped = warp(
                &img,
                p,
                Interpolation::Bilinear,
                Border::<Luma<u8>>::Replicate,
            );
            out.copy_from_slice(warped.as_raw());
        } else {
            out.copy_from_slice(src);
        }
        if flip {
            hflip_in_place(out, size);
        }
        if erase {
            erase_rectangle(out, size, rng);
        }
        let blur = rng.next_f64() < 0.5;
        let sigma = rng.uniform(0.0, 1.0) as f32 * self.blur;
        // (Gamma draws after blur, for the same reason; optics blur, the sensor's curve after.)
        let gamma = (rng.uniform(-1.0, 1.0) * (self.gamma.max(1.0) as f64).ln()).exp();
        // (The surround draws last of all, but is drawn into the scene before the optics.)
        let surround = Surround::draw(rng, size);
        if (rng.next_f64() as f32) < self.surround {
            surround.apply(out, size);
        }
        if blur && sigma > MIN_SIGMA {
            gaussian_blur(out, size, sigma);
        }
        if self.gamma > 1.0 {
            tone_curve(out, gamma);
        }
    }
}

/// A new surround for a face: a soft ellipse (centre, half-axes and edge in pixels) inside which
/// the face stays, and the flat gray with a linear gradient that replaces everything outside it.
#[derive(Debug, Clone, Copy)]
struct Surround {
    cx: f32,
    cy: f32,
    rx: f32,
    ry: f32,
    edge: f32,
    gray: f32,
    gx: f32,
    gy: f32,
}

impl Surround {
    fn draw(rng: &mut SplitMix64, size: u32) -> Surround {
        let s = size as f32;
        let mut u = |lo: f32, hi: f32| lo + (hi - lo) * rng.next_f64() as f32;
        Surround {
            cx: s / 2.0 + u(-0.05, 0.05) * s,
            cy: s / 2.0 + u(-0.05, 0.05) * s,
            // A face crop's face is taller than wide and fills most of it.
            rx: u(0.36, 0.52) * s,
            ry: u(0.42, 0.58) * s,
            edge: u(0.03, 0.10) * s,
            gray: u(0.0, 255.0),
            gx: u(-40.0, 40.0),
            gy: u(-40.0, 40.0),
        }
    }

    fn apply(&self, px: &mut [u8], size: u32) {
        let s = size as f32;
        for (i, p) in px.iter_mut().enumerate() {
            let (x, y) = (
                (i as u32 % size) as f32 + 0.5,
                (i as u32 / size) as f32 + 0.5,
            );
            let (dx, dy) = ((x - self.cx) / self.rx, (y - self.cy) / self.ry);
            // Distance outside the ellipse, roughly in pixels (0 on it, negative inside).
            let out = ((dx * dx + dy * dy).sqrt() - 1.0) * self.rx.min(self.ry);
            let keep = (0.5 - out / self.edge).clamp(0.0, 1.0);
            if keep < 1.0 {
                let fill = self.gray + self.gx * (x / s - 0.5) + self.gy * (y / s - 0.5);
                let v = *p as f32 * keep + fill.clamp(0.0, 255.0) * (1.0 - keep);
                *p = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Blurs a `size`×`size` image in place with a Gaussian of `sigma` pixels (> 0), in float and
/// rounded once: imageproc's u8 path truncates, darkening the image and adding speckle to flat
/// regions.
pub(crate) fn gaussian_blur(px: &mut [u8], size: u32, sigma: f32) {
    let img = image::ImageBuffer::<Luma<f32>, Vec<f32>>::from_raw(
        size,
        size,
        px.iter().map(|&v| v as f32).collect(),
    )
    .expect("size×size buffer");
    let soft = imageproc::filter::gaussian_blur_f32(&img, sigma);
    for (o, v) in px.iter_mut().zip(soft.as_raw()) {
        *o = v.round().clamp(0.0, 255.0) as u8;
    }
}

/// Maps every gray level v of `px` to 255·(v/255)^`gamma`, rounded: γ > 1 darkens mid-tones,
/// γ < 1 lightens them; black and white stay.
pub(crate) fn tone_curve(px: &mut [u8], gamma: f64) {
    let lut: Vec<u8> = (0..=255u32)
        .map(|v| (255.0 * (v as f64 / 255.0).powf(gamma)).round() as u8)
        .collect();
    for v in px.iter_mut() {
        *v = lut[*v as usize];
    }
}

/// Below this σ (pixels) a Gaussian blur changes no 8-bit pixel noticeably; it is skipped.
const MIN_SIGMA: f32 = 0.05;

/// Fills one random rectangle of a `size`×`size` image with uniform noise: area and aspect
/// ratio drawn from [`ERASE_AREA`] and [`ERASE_RATIO`] (log-uniform), retried up to ten
/// times until it fits, as in the paper; nothing is erased if none fits.
fn erase_rectangle(px: &mut [u8], size: u32, rng: &mut SplitMix64) {
    let s = size as f64;
    for _ in 0..10 {
        let area = rng.uniform(ERASE_AREA.0, ERASE_AREA.1) * s * s;
        let ratio = rng.uniform(ERASE_RATIO.0.ln(), ERASE_RATIO.1.ln()).exp();
        let h = (area * ratio).sqrt().round() as usize;
        let w = (area / ratio).sqrt().round() as usize;
        if h == 0 || w == 0 || h >= size as usize || w >= size as usize {
            continue;
        }
        let y0 = rng.below(size as usize - h + 1);
        let x0 = rng.below(size as usize - w + 1);
        for row in px.chunks_exact_mut(size as usize).skip(y0).take(h) {
            for p in &mut row[x0..x0 + w] {
                *p = (rng.next_u64() >> 56) as u8;
            }
        }
        return;
    }
}

/// A contact sheet of what the augmentation does: one row per image in `rows` — the image
/// itself, a white gap, then `variants` augmentations of it (those of epochs 1, 2, … for `seed`,
/// exactly what training feeds the network) — each face scaled `zoom`×, 2-pixel grey gaps.
pub fn preview(
    set: &ImageSet,
    aug: &Augment,
    seed: u64,
    rows: &[usize],
    variants: usize,
    zoom: u32,
) -> GrayImage {
    const GAP: u32 = 2;
    let tile = set.size * zoom;
    let cols = variants as u32 + 1;
    let width = cols * tile + cols * GAP + GAP * 2;
    let height = rows.len() as u32 * (tile + GAP) + GAP;
    let mut sheet = GrayImage::from_pixel(width, height, Luma([96]));
    // The original is set apart from its augmentations by a wider gap with a white line.
    let x_of = |c: u32| GAP + c * (tile + GAP) + if c > 0 { GAP * 2 } else { 0 };
    let line = x_of(1) - GAP * 2..x_of(1) - GAP;
    let mut px = vec![0u8; set.pixels_per_image()];
    for (r, &i) in rows.iter().enumerate() {
        let y0 = GAP + r as u32 * (tile + GAP);
        for y in y0..y0 + tile {
            for x in line.clone() {
                sheet.put_pixel(x, y, Luma([255]));
            }
        }
        for c in 0..cols {
            if c == 0 {
                px.copy_from_slice(set.image(i));
            } else {
                let mut rng = SplitMix64::keyed(&[seed, STREAM_AUGMENT, c as u64, i as u64]);
                aug.apply(set.image(i), set.size, &mut rng, &mut px);
            }
            let x0 = x_of(c);
            for y in 0..tile {
                for x in 0..tile {
                    let v = px[((y / zoom) * set.size + x / zoom) as usize];
                    sheet.put_pixel(x0 + x, y0 + y, Luma([v]));
                }
            }
        }
    }
    sheet
}

/// Mirrors a `size`×`size` image left–right, exactly.
pub fn hflip_in_place(px: &mut [u8], size: u32) {
    for row in px.chunks_exact_mut(size as usize) {
        row.reverse();
    }
}

/// The batch of images `idx` as a `[B, 1, S, S]` float tensor in [0, 1], augmented with
/// `(augment, seed, epoch)` when given, plus the `[B]` int64 label tensor.
pub fn batch(
    set: &ImageSet,
    idx: &[usize],
    augment: Option<(&Augment, u64, u64)>,
) -> (Tensor, Tensor) {
    let n = set.pixels_per_image();
    let s = set.size as i64;
    let mut px = vec![0u8; idx.len() * n];
    px.par_chunks_mut(n)
        .zip(idx.par_iter())
        .for_each(|(out, &i)| match augment {
            Some((aug, seed, epoch)) => {
                let mut rng = SplitMix64::keyed(&[seed, STREAM_AUGMENT, epoch, i as u64]);
                aug.apply(set.image(i), set.size, &mut rng, out);
            }
            None => out.copy_from_slice(set.image(i)),
        });
    let x = Tensor::from_slice(&px)
        .view([idx.len() as i64, 1, s, s])
        .to_kind(tch::Kind::Float)
        / 255.0;
    let labels: Vec<i64> = idx.iter().map(|&i| set.labels[i] as i64).collect();
    (x, Tensor::from_slice(&labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Augmentation of `gradient(48)` with the notebook's settings and seed 11, as computed
    /// by the code before shift and erasing were added.
    const BEFORE: (u64, u8, u8, u8) = (313045, 241, 57, 40);

    fn gradient(size: u32) -> Vec<u8> {
        (0..size * size)
            .map(|i| ((i % size) * 5 + (i / size)) as u8)
            .collect()
    }

    #[test]
    fn zero_strength_is_identity() {
        let src = gradient(48);
        let mut out = vec![0; src.len()];
        for seed in 0..20 {
            Augment::NONE.apply(&src, 48, &mut SplitMix64::new(seed), &mut out);
            assert_eq!(out, src);
        }
    }

    #[test]
    fn two_flips_are_identity_and_one_flip_mirrors() {
        let src = gradient(7);
        let mut px = src.clone();
        hflip_in_place(&mut px, 7);
        assert_ne!(px, src);
        assert_eq!(px[0], src[6]);
        hflip_in_place(&mut px, 7);
        assert_eq!(px, src);
    }

    #[test]
    fn flip_only_gives_either_image_or_its_mirror() {
        let src = gradient(12);
        let mut mirror = src.clone();
        hflip_in_place(&mut mirror, 12);
        let aug = Augment {
            hflip: true,
            ..Augment::NONE
        };
        let (mut same, mut flipped) = (0, 0);
        let mut out = vec![0; src.len()];
        for seed in 0..200 {
            aug.apply(&src, 12, &mut SplitMix64::new(seed), &mut out);
            if out == src {
                same += 1
            } else if out == mirror {
                flipped += 1
            } else {
                panic!("flip produced something else")
            }
        }
        assert!(same > 60 && flipped > 60, "{same} vs {flipped}");
    }

    #[test]
    fn geometric_augmentation_changes_pixels_keeps_range_and_is_seeded() {
        let src = gradient(48);
        let (mut a, mut b, mut c) = (vec![0; src.len()], vec![0; src.len()], vec![0; src.len()]);
        Augment::NOTEBOOK.apply(&src, 48, &mut SplitMix64::new(1), &mut a);
        Augment::NOTEBOOK.apply(&src, 48, &mut SplitMix64::new(1), &mut b);
        Augment::NOTEBOOK.apply(&src, 48, &mut SplitMix64::new(2), &mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, src);
    }

    #[test]
    fn shift_alone_translates_by_whole_pixels_within_its_range() {
        // A single bright pixel in the middle of a dark image: after a pure shift it moves by
        // at most `shift`·size pixels, and every shift in the range shows up.
        let size = 48u32;
        let mut src = vec![0u8; (size * size) as usize];
        src[(24 * size + 24) as usize] = 255;
        let aug = Augment {
            shift: 0.1,
            ..Augment::NONE
        };
        let mut out = vec![0; src.len()];
        let (mut max_dx, mut min_dx) = (0f32, 0f32);
        for seed in 0..300 {
            aug.apply(&src, size, &mut SplitMix64::new(seed), &mut out);
            // Centre of mass of the (bilinearly spread) bright pixel.
            let (mut m, mut mx, mut my) = (0f32, 0f32, 0f32);
            for (i, &v) in out.iter().enumerate() {
                let v = v as f32;
                m += v;
                mx += v * (i as u32 % size) as f32;
                my += v * (i as u32 / size) as f32;
            }
            assert!(m > 200.0, "the pixel stays inside: seed {seed}");
            let (dx, dy) = (mx / m - 24.0, my / m - 24.0);
            assert!(
                dx.abs() <= 4.8 + 0.05 && dy.abs() <= 4.8 + 0.05,
                "{dx} {dy}"
            );
            max_dx = max_dx.max(dx);
            min_dx = min_dx.min(dx);
        }
        assert!(
            max_dx > 3.5 && min_dx < -3.5,
            "range used: {min_dx}..{max_dx}"
        );
    }

    #[test]
    fn erasing_replaces_one_rectangle_of_the_right_size_with_the_given_probability() {
        let size = 48usize;
        let src = vec![128u8; size * size];
        let aug = Augment {
            erase: 0.5,
            ..Augment::NONE
        };
        let mut out = vec![0; src.len()];
        let mut erased = 0;
        for seed in 0..400 {
            aug.apply(&src, size as u32, &mut SplitMix64::new(seed), &mut out);
            let changed: Vec<(usize, usize)> = (0..size * size)
                .filter(|&i| out[i] != 128)
                .map(|i| (i % size, i / size))
                .collect();
            if changed.is_empty() {
                continue;
            }
            erased += 1;
            // The changed pixels lie in one rectangle covering (nearly all of) ≤ 33% of the
            // image and at least 2% of it (noise can repeat the old value now and then).
            let (x0, x1) = (
                changed.iter().map(|p| p.0).min().unwrap(),
                changed.iter().map(|p| p.0).max().unwrap(),
            );
            let (y0, y1) = (
                changed.iter().map(|p| p.1).min().unwrap(),
                changed.iter().map(|p| p.1).max().unwrap(),
            );
            let rect = (x1 - x0 + 1) * (y1 - y0 + 1);
            assert!(
                changed.len() * 100 >= rect * 95,
                "seed {seed}: not one filled rectangle"
            );
            let frac = rect as f64 / (size * size) as f64;
            assert!((0.015..=0.34).contains(&frac), "seed {seed}: area {frac}");
        }
        assert!(
            (150..=250).contains(&erased),
            "erased {erased} of 400 at p = 0.5"
        );
        // Off, nothing is erased; the same seed erases the same way.
        let (mut a, mut b) = (vec![0; src.len()], vec![0; src.len()]);
        Augment::NONE.apply(&src, size as u32, &mut SplitMix64::new(3), &mut a);
        assert_eq!(a, src);
        let always = Augment {
            erase: 1.0,
            ..Augment::NONE
        };
        always.apply(&src, size as u32, &mut SplitMix64::new(3), &mut a);
        always.apply(&src, size as u32, &mut SplitMix64::new(3), &mut b);
        assert_eq!(a, b);
        assert_ne!(a, src);
    }

    #[test]
    fn gamma_bends_mid_tones_both_ways_and_keeps_black_and_white() {
        // A ramp over every gray level: each curve is monotonic, fixes 0 and 255, and moves
        // the mid-gray (128) down for γ > 1 and up for γ < 1, never beyond the γ range.
        let size = 16u32;
        let src: Vec<u8> = (0..size * size).map(|i| i as u8).collect();
        let aug = Augment {
            gamma: 1.5,
            ..Augment::NONE
        };
        let mid = |g: f64| 255.0 * (128.0f64 / 255.0).powf(g);
        let mut out = vec![0; src.len()];
        let (mut darker, mut lighter) = (0, 0);
        for seed in 0..200 {
            aug.apply(&src, size, &mut SplitMix64::new(seed), &mut out);
            assert_eq!((out[0], out[255]), (0, 255), "seed {seed}");
            assert!(
                out.windows(2).all(|w| w[0] <= w[1]),
                "seed {seed}: not monotonic"
            );
            let m = out[128] as f64;
            assert!(
                (mid(1.5) - 1.0..=mid(1.0 / 1.5) + 1.0).contains(&m),
                "seed {seed}: 128 → {m}"
            );
            if m < 125.0 {
                darker += 1;
            } else if m > 131.0 {
                lighter += 1;
            }
        }
        assert!(
            darker > 60 && lighter > 60,
            "{darker} darker, {lighter} lighter"
        );
        // Seeded; off (1, the default of configs written before it existed), nothing changes.
        let (mut a, mut b) = (vec![0; src.len()], vec![0; src.len()]);
        aug.apply(&src, size, &mut SplitMix64::new(9), &mut a);
        aug.apply(&src, size, &mut SplitMix64::new(9), &mut b);
        assert_eq!(a, b);
        Augment::NONE.apply(&src, size, &mut SplitMix64::new(9), &mut a);
        assert_eq!(a, src);
        let old: Augment = serde_json::from_str(
            r#"{"rotation":0,"shear":0,"zoom":0,"hflip":false,"shift":0,"erase":0,"blur":0}"#,
        )
        .unwrap();
        assert_eq!(old, Augment::NONE);
    }

    #[test]
    fn blur_softens_half_the_images_and_keeps_their_brightness() {
        // A sharp checkerboard of 4-px cells: blurring lowers its sharpness, keeps its mean.
        let size = 48u32;
        let src: Vec<u8> = (0..size * size)
            .map(|i| {
                if ((i % size) / 4 + (i / size) / 4).is_multiple_of(2) {
                    30
                } else {
                    220
                }
            })
            .collect();
        let spread = |px: &[u8]| -> f64 {
            px.windows(2)
                .map(|w| (w[0] as f64 - w[1] as f64).abs())
                .sum::<f64>()
        };
        let mean = |px: &[u8]| px.iter().map(|&v| v as f64).sum::<f64>() / px.len() as f64;
        let aug = Augment {
            blur: 1.5,
            ..Augment::NONE
        };
        let mut out = vec![0; src.len()];
        let (mut sharp, mut soft, mut clearly) = (0, 0, 0);
        for seed in 0..200 {
            aug.apply(&src, size, &mut SplitMix64::new(seed), &mut out);
            if out == src {
                sharp += 1;
                continue;
            }
            soft += 1;
            assert!(spread(&out) <= spread(&src), "seed {seed}: sharper");
            if spread(&out) < 0.9 * spread(&src) {
                clearly += 1;
            }
            assert!((mean(&out) - mean(&src)).abs() < 2.0, "seed {seed}");
        }
        // Half blurred (a σ too small to change a pixel counts as sharp), most of those
        // visibly.
        assert!((70..=130).contains(&soft), "{soft} blurred, {sharp} sharp");
        assert!(
            clearly * 10 >= soft * 7,
            "{clearly} of {soft} visibly softer"
        );
        // Seeded; and off, nothing changes.
        let (mut a, mut b) = (vec![0; src.len()], vec![0; src.len()]);
        for seed in 0..20 {
            aug.apply(&src, size, &mut SplitMix64::new(seed), &mut a);
            aug.apply(&src, size, &mut SplitMix64::new(seed), &mut b);
            assert_eq!(a, b);
        }
        Augment::NONE.apply(&src, size, &mut SplitMix64::new(3), &mut a);
        assert_eq!(a, src);
    }

    #[test]
    fn runs_without_shift_and_erasing_augment_as_before_those_existed() {
        // config.json of older runs has no `shift`/`erase`: they read as 0, and the five
        // draws of rotation, shear, zoom and flip are unchanged, so resumed runs continue the
        // same. The bytes below are what the augmentation gave before shift/erase existed.
        let old: Augment =
            serde_json::from_str(r#"{"rotation":40.0,"shear":0.2,"zoom":0.2,"hflip":true}"#)
                .unwrap();
        assert_eq!(old, Augment::NOTEBOOK);
        let src = gradient(48);
        let mut out = vec![0; src.len()];
        old.apply(&src, 48, &mut SplitMix64::new(11), &mut out);
        let sum: u64 = out.iter().map(|&v| v as u64).sum();
        assert_eq!((sum, out[0], out[1000], out[2303]), BEFORE);
    }

    #[test]
    fn surround_replaces_the_corners_keeps_the_face_and_leaves_other_options_as_they_were() {
        let size = 48u32;
        let src = vec![128u8; (size * size) as usize];
        let with = Augment {
            surround: 1.0,
            ..Augment::NONE
        };
        let (mut out, mut changed_runs) = (vec![0; src.len()], 0);
        for seed in 0..200 {
            with.apply(&src, size, &mut SplitMix64::new(seed), &mut out);
            // The middle of the face is always kept.
            for (x, y) in [(24, 24), (18, 20), (30, 28)] {
                assert_eq!(out[(y * size + x) as usize], 128, "seed {seed} ({x}, {y})");
            }
            let changed =
                out.iter().filter(|&&v| v.abs_diff(128) > 2).count() as f32 / out.len() as f32;
            assert!(changed < 0.6, "seed {seed}: {changed} of the crop replaced");
            if changed > 0.05 {
                changed_runs += 1;
                // A corner is surround, not face.
                let corners = [0, size - 1, size * (size - 1), size * size - 1];
                assert!(
                    corners.iter().any(|&i| out[i as usize].abs_diff(128) > 2),
                    "seed {seed}"
                );
            }
        }
        // The fill is a random gray: now and then close to the face's own 128.
        assert!(changed_runs > 170, "{changed_runs} of 200");
        // Off, nothing changes; and turning it on does not change what other options draw.
        Augment::NONE.apply(&src, size, &mut SplitMix64::new(5), &mut out);
        assert_eq!(out, src);
        let blur = Augment {
            blur: 1.0,
            gamma: 1.5,
            ..Augment::NOTEBOOK
        };
        let both = Augment {
            surround: 1.0,
            ..blur
        };
        let grad = gradient(48);
        let (mut a, mut b) = (vec![0; grad.len()], vec![0; grad.len()]);
        blur.apply(&grad, 48, &mut SplitMix64::new(9), &mut a);
        both.apply(&grad, 48, &mut SplitMix64::new(9), &mut b);
        assert_eq!(a[24 * 48 + 24], b[24 * 48 + 24]);
        assert_ne!(a, b);
    }

    #[test]
    fn preview_shows_each_image_then_its_training_augmentations() {
        let set = ImageSet {
            size: 8,
            pixels: (0..2 * 64).map(|i| (i * 3 % 256) as u8).collect(),
            labels: vec![0, 1],
            paths: vec![Default::default(); 2],
            num_classes: 2,
        };
        let sheet = preview(&set, &Augment::NOTEBOOK, 5, &[1, 0], 3, 2);
        // 4 tiles of 16 px, 4 gaps of 2 plus the wider one; 2 rows of 16 plus 3 gaps.
        assert_eq!(sheet.dimensions(), (4 * 16 + 4 * 2 + 4, 2 * 18 + 2));
        let tile = |col: u32, row: u32| -> Vec<u8> {
            let x0 = 2 + col * 18 + if col > 0 { 4 } else { 0 };
            let y0 = 2 + row * 18;
            (0..8)
                .flat_map(|y| (0..8).map(move |x| (x, y)))
                .map(|(x, y)| sheet.get_pixel(x0 + x * 2, y0 + y * 2).0[0])
                .collect()
        };
        // Row 0 is image 1, unchanged; column 2 is its augmentation of epoch 2.
        assert_eq!(tile(0, 0), set.image(1));
        assert_eq!(tile(0, 1), set.image(0));
        let mut want = vec![0; 64];
        let mut rng = SplitMix64::keyed(&[5, STREAM_AUGMENT, 2, 1]);
        Augment::NOTEBOOK.apply(set.image(1), 8, &mut rng, &mut want);
        assert_eq!(tile(2, 0), want);
        assert_ne!(tile(2, 0), tile(0, 0));
    }

    #[test]
    fn batch_has_model_shape_and_unit_range() {
        let set = ImageSet {
            size: 8,
            pixels: (0..3 * 64).map(|i| (i % 256) as u8).collect(),
            labels: vec![0, 1, 2],
            paths: vec![Default::default(); 3],
            num_classes: 3,
        };
        let (x, y) = batch(&set, &[2, 0], Some((&Augment::NOTEBOOK, 1, 0)));
        assert_eq!(x.size(), [2, 1, 8, 8]);
        assert_eq!(Vec::<i64>::try_from(&y).unwrap(), [2, 0]);
        assert!(x.min().double_value(&[]) >= 0.0 && x.max().double_value(&[]) <= 1.0);
        let (x, _) = batch(&set, &[1], None);
        assert!((x.double_value(&[0, 0, 0, 1]) - 65.0 / 255.0).abs() < 1e-6);
    }
}
