//! Camera conditions for evaluation: fixed, documented changes to every image of a split —
//! a dim room, low contrast, a washed-out picture, dark mid-tones, sensor noise, soft focus, a
//! head on a pillow —
//! so `areya evaluate --perturb NAME` shows how much a model loses to each before a ward
//! meets them. FER-2013 faces are well-lit web photos; bedside cameras at night are not.

use crate::augment::{gaussian_blur, tone_curve};
use crate::error::{MlError, Result};
use crate::rng::SplitMix64;

/// One camera condition, at the strength its name documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perturbation {
    /// A dark room: `0.35 · v + 10` (a third of the contrast, near black).
    Dim,
    /// Half the contrast about mid-gray: `0.5 · (v − 128) + 128`.
    LowContrast,
    /// Washed out (backlight, overexposure): `0.6 · v + 100`.
    WashedOut,
    /// Underexposed mid-tones: `255 · (v / 255)²`.
    DarkGamma,
    /// Sensor noise of low light: Gaussian, σ 8 gray levels, seeded per image.
    Noise,
    /// Soft focus: Gaussian blur, σ 1 pixel (of the 48×48 face).
    Blur,
    /// A head on a pillow: outside a soft oval the face fades into the pillow's flat gray 215
    /// (full face within 0.42 of the side from the centre, 0.9 as wide as high; pillow from
    /// 0.5) — what the bedside benchmark's scenes (`areya_vision::scene`) put around a face.
    Pillow,
}

impl Perturbation {
    pub const ALL: [Perturbation; 7] = [
        Perturbation::Dim,
        Perturbation::LowContrast,
        Perturbation::WashedOut,
        Perturbation::DarkGamma,
        Perturbation::Noise,
        Perturbation::Blur,
        Perturbation::Pillow,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Perturbation::Dim => "dim",
            Perturbation::LowContrast => "low-contrast",
            Perturbation::WashedOut => "washed-out",
            Perturbation::DarkGamma => "dark-gamma",
            Perturbation::Noise => "noise",
            Perturbation::Blur => "blur",
            Perturbation::Pillow => "pillow",
        }
    }

    /// Parses a `--perturb` value.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|p| p.name()).collect();
                MlError::config(
                    "perturbation",
                    format!("unknown condition '{name}' ({})", names.join(", ")),
                )
            })
    }

    /// Applies the condition to every `size`×`size` image in `pixels` (image `i` at
    /// `i · size²`); the noise of image `i` depends on `i` only.
    pub fn apply(&self, pixels: &mut [u8], size: u32) {
        let n = (size * size) as usize;
        let map = |f: &dyn Fn(f64) -> f64, px: &mut [u8]| {
            for v in px {
                *v = f(*v as f64).round().clamp(0.0, 255.0) as u8;
            }
        };
        for (i, img) in pixels.chunks_exact_mut(n).enumerate() {
            match self {
                Perturbation::Dim => map(&|v| 0.35 * v + 10.0, img),
                Perturbation::LowContrast => map(&|v| 0.5 * (v - 128.0) + 128.0, img),
                Perturbation::WashedOut => map(&|v| 0.6 * v + 100.0, img),
                Perturbation::DarkGamma => tone_curve(img, 2.0),
                Perturbation::Noise => {
                    let mut rng = SplitMix64::keyed(&[0x006e_6f69_7365, i as u64]);
                    for v in img.iter_mut() {
                        // Box–Muller.
                        let (u1, u2) = (1.0 - rng.next_f64(), rng.next_f64());
                        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                        *v = (*v as f64 + 8.0 * z).round().clamp(0.0, 255.0) as u8;
                    }
                }
                Perturbation::Blur => gaussian_blur(img, size, 1.0),
                Perturbation::Pillow => pillow(img, size),
            }
        }
    }
}

pub use areya_core::face::pillow_oval;

/// [`Perturbation::Pillow`] on one image.
fn pillow(img: &mut [u8], size: u32) {
    let s = size as f32;
    for (i, v) in img.iter_mut().enumerate() {
        let face = pillow_oval(
            ((i as u32 % size) as f32 + 0.5) / s - 0.5,
            ((i as u32 / size) as f32 + 0.5) / s - 0.5,
        );
        *v = (*v as f32 * face + 215.0 * (1.0 - face)).round() as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> Vec<u8> {
        // Two 4×4 images: a ramp 0..=255 and a flat mid-gray.
        let mut v: Vec<u8> = (0..16).map(|i| (i * 17) as u8).collect();
        v.extend([128u8; 16]);
        v
    }

    #[test]
    fn each_condition_does_what_its_name_says() {
        let src = ramp();
        let range = |px: &[u8]| (px.iter().max().unwrap() - px.iter().min().unwrap()) as u32;
        let mean = |px: &[u8]| px.iter().map(|&v| v as f64).sum::<f64>() / px.len() as f64;
        type Check<'a> = &'a dyn Fn(&[u8], &[u8]) -> bool;
        let cases: [(Perturbation, Check); 7] = [
            (Perturbation::Dim, &|_, b| b[15] == 99 && b[0] == 10),
            (Perturbation::LowContrast, &|a, b| {
                range(b) * 2 <= range(a) + 1 && (mean(b) - 128.0).abs() < 1.0
            }),
            (Perturbation::WashedOut, &|_, b| b[0] == 100 && b[15] == 253),
            // Mid-tones darken: 136 → 255 · (136 / 255)² = 72.5.
            (Perturbation::DarkGamma, &|a, b| {
                a[8] == 136 && b[8] == 73 && b[0] == 0 && b[15] == 255
            }),
            (Perturbation::Noise, &|a, b| {
                a != b && (mean(a) - mean(b)).abs() < 6.0
            }),
            (Perturbation::Blur, &|a, b| range(b) < range(a)),
            // Corners are pillow, the middle is the face.
            (Perturbation::Pillow, &|a, b| {
                b[0] == 215 && b[15] == 215 && b[5] == a[5] && b[10] == a[10]
            }),
        ];
        for (p, ok) in cases {
            let mut px = src.clone();
            p.apply(&mut px, 4);
            assert!(ok(&src[..16], &px[..16]), "{}: {:?}", p.name(), &px[..16]);
            assert_eq!(Perturbation::parse(p.name()).unwrap(), p);
        }
        // The noise is the same every time; blur leaves a flat image flat.
        let (mut a, mut b) = (src.clone(), src.clone());
        Perturbation::Noise.apply(&mut a, 4);
        Perturbation::Noise.apply(&mut b, 4);
        assert_eq!(a, b);
        let mut c = src.clone();
        Perturbation::Blur.apply(&mut c, 4);
        assert_eq!(&c[16..], &src[16..]);
        let e = Perturbation::parse("fog").unwrap_err().to_string();
        assert!(
            e.contains("perturbation") && e.contains("dim, low-contrast"),
            "{e}"
        );
    }
}
