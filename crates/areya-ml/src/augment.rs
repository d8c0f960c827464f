//! Training-time augmentation, the notebook's `ImageDataGenerator` done right: random rotation,
//! shear, zoom and horizontal flip, one affine warp per image (imageproc, bilinear, edge pixels
//! replicated like Keras' `fill_mode="nearest"`), seeded per (seed, epoch, image) so the result
//! does not depend on thread scheduling. Also builds the `[B, 1, S, S]` batches the models eat.

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
}

impl Augment {
    /// The notebook's values: rotation 40°, shear 0.2, zoom 0.2, horizontal flip.
    pub const NOTEBOOK: Augment = Augment {
        rotation: 40.0,
        shear: 0.2,
        zoom: 0.2,
        hflip: true,
    };
    pub const NONE: Augment = Augment {
        rotation: 0.0,
        shear: 0.0,
        zoom: 0.0,
        hflip: false,
    };

    pub fn is_geometric(&self) -> bool {
        self.rotation != 0.0 || self.shear != 0.0 || self.zoom != 0.0
    }

    /// Augments one `size`×`size` image with the stream `rng`, writing into `out`.
    pub fn apply(&self, src: &[u8], size: u32, rng: &mut SplitMix64, out: &mut [u8]) {
        // Always draw the same five numbers so each option's draw does not shift the others.
        let angle = rng.uniform(-1.0, 1.0) as f32 * self.rotation.to_radians();
        let shear = rng.uniform(-1.0, 1.0) as f32 * self.shear;
        let zx = 1.0 + rng.uniform(-1.0, 1.0) as f32 * self.zoom;
        let zy = 1.0 + rng.uniform(-1.0, 1.0) as f32 * self.zoom;
        let flip = self.hflip && rng.next_f64() < 0.5;
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
            let p = Projection::translate(c, c)
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
    }
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
