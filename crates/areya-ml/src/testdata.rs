//! Small synthetic FER-layout datasets, made on the spot for tests and examples on machines
//! without FER-2013: each class is a bright square in its own quadrant over a textured
//! background, so a small network can learn it in a couple of epochs.

use std::path::Path;

/// Class folders written by [`write_dataset`]: Areya's four (neutral as FER names it) + fear.
pub const FOLDERS: [&str; 5] = ["angry", "happy", "neutral", "sad", "fear"];

/// The `i`-th synthetic image of class index `class` (0..4 by quadrant), `size`×`size`.
pub fn image(class: usize, i: usize, size: u32) -> image::GrayImage {
    let mut img = image::GrayImage::from_fn(size, size, |x, y| {
        image::Luma([((x * 3 + y * 5 + i as u32 * 7) % 60) as u8 + 40])
    });
    let (qx, qy) = [(0, 0), (1, 0), (0, 1), (1, 1)][class % 4];
    let half = size / 2;
    for y in 0..half.saturating_sub(4) {
        for x in 0..half.saturating_sub(4) {
            img.put_pixel(qx * half + 2 + x, qy * half + 2 + y, image::Luma([230]));
        }
    }
    img
}

/// Writes `ROOT/train/<folder>/` with `n` images per class and `ROOT/val/<folder>/` with `n/4`,
/// alternating PNG and JPEG.
pub fn write_dataset(root: &Path, n: usize) -> std::io::Result<()> {
    for (split, count) in [("train", n), ("val", n / 4)] {
        for (c, name) in FOLDERS.iter().enumerate() {
            let dir = root.join(split).join(name);
            std::fs::create_dir_all(&dir)?;
            for i in 0..count {
                let ext = if i % 2 == 0 { "png" } else { "jpg" };
                image(c, i, 48)
                    .save(dir.join(format!("{split}_{i:04}.{ext}")))
                    .map_err(std::io::Error::other)?;
            }
        }
    }
    Ok(())
}

/// A network small enough to train on these datasets in seconds: one convolution per block
/// of the given widths, `dropout` before and in the head, no input standardization.
pub fn tiny_cnn(widths: &[i64], dropout: f64) -> crate::model::Architecture {
    crate::model::Architecture::AreyaCnn {
        widths: widths.to_vec(),
        convs_per_block: 1,
        dropout,
        head_dropout: dropout,
        standardize: false,
    }
}
