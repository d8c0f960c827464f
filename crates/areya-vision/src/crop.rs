//! Cutting the face out of a frame: the square a [`FaceCrop`] puts around the detector's box
//! (edges replicated), resized to the model's input; the crop's sharpness for quality; and
//! [`fit_crop`], which measures the `FaceCrop` that frames live faces as a model's training
//! images were framed.

use crate::bedside::Face;
use crate::pipeline::Locator;
use crate::view::View;
use crate::{GrayFrame, VisionError};
use areya_core::{FaceBox, FaceCrop};

/// A square crop of `frame` around `face` as `crop` places it, resized to `size`×`size` with a
/// Lanczos filter. A triangle filter blurred the face by about one model pixel more, and on
/// FER-2013's val faces that blur alone moved relaxed faces to sad (relaxed recall 0.615 →
/// 0.685 with Lanczos through the pipeline; docs/benchmarks.md).
pub fn crop_face(frame: &GrayFrame, face: &FaceBox, crop: &FaceCrop, size: u32) -> Vec<u8> {
    let (x0, y0, side) = crop.square(face);
    let (w, h) = (frame.width as i64, frame.height as i64);
    let mut square = image::GrayImage::new(side as u32, side as u32);
    for (x, y, p) in square.enumerate_pixels_mut() {
        let sx = (x0 + x as i64).clamp(0, w - 1);
        let sy = (y0 + y as i64).clamp(0, h - 1);
        p.0[0] = frame.pixels[(sy * w + sx) as usize];
    }
    image::imageops::resize(&square, size, size, image::imageops::FilterType::Lanczos3).into_raw()
}

/// Roll below which a face is cut out without turning it: the model was trained with ±15° of
/// random rotation, FER-2013's own faces lean a few degrees either way, and an unturned crop on
/// the pixel grid adds no resampling blur. On the bedside benchmark, turning upright faces
/// (|roll| ≤ 10°) by their eye line cost 4.6 points of accuracy (docs/benchmarks.md).
pub const ALIGN_FROM_DEG: f32 = 10.0;

/// Crops larger than this many times the model's input are sampled down to it before the final
/// resize: at 4× the bilinear sampling's own blur is a quarter of a model pixel, and a face that
/// fills a 4K frame needs no more detail than this.
const MAX_OVERSAMPLE: f32 = 4.0;

/// The crop of `face` turned upright by its landmarks: the square `crop` places around the
/// face's box in the face's own axes, resized to `size`×`size` with Lanczos as [`crop_face`]
/// does. A turned face is sampled at twice the frame's resolution (at most `MAX_OVERSAMPLE`
/// times the model's input), so that the bilinear interpolation blurs by half a frame pixel
/// rather than one (the model is sensitive to blur,
/// see [`crop_face`]); a face within [`ALIGN_FROM_DEG`] of upright is copied off the pixel grid
/// without interpolation.
pub fn aligned_crop(frame: &GrayFrame, face: &Face, crop: &FaceCrop, size: u32) -> Vec<u8> {
    let upright = face.roll.abs() < ALIGN_FROM_DEG.to_radians();
    let roll = if upright { 0.0 } else { face.roll };
    let s = face.side;
    let (sin, cos) = roll.sin_cos();
    let (ox, oy) = (crop.dx as f32 * s, crop.dy as f32 * s);
    let (cx, cy) = (face.cx + ox * cos - oy * sin, face.cy + ox * sin + oy * cos);
    let side = (s * crop.scale as f32).max(1.0);
    let rounded = side.round().max(1.0);
    let max_native = MAX_OVERSAMPLE * size as f32;
    let (view, native) = if upright {
        let snap = |c: f32| (c - rounded / 2.0).round() + rounded / 2.0;
        let native = rounded.min(max_native);
        let view = View {
            cx: snap(cx),
            cy: snap(cy),
            // Past `max_native` the square is sampled down, no longer copied.
            side: if native < rounded { side } else { rounded },
            angle: 0.0,
        };
        (view, native)
    } else {
        let view = View {
            cx,
            cy,
            side,
            angle: roll,
        };
        (view, (2.0 * rounded).min(max_native))
    };
    let native = native as usize;
    let square =
        image::GrayImage::from_raw(native as u32, native as u32, view.sample(frame, native))
            .unwrap_or_default();
    image::imageops::resize(&square, size, size, image::imageops::FilterType::Lanczos3).into_raw()
}

/// A 640×480 frame of plain `wall` gray with `face` scaled to `side`×`side`, its top-left corner
/// at `at`: a face image as a camera would show it to the pipeline. [`fit_crop`] measures with
/// such frames; the demo ward and the benchmarks show faces this way.
pub fn face_in_frame(face: &image::GrayImage, side: u32, at: (i64, i64), wall: u8) -> GrayFrame {
    let big = image::imageops::resize(face, side, side, image::imageops::FilterType::Triangle);
    let mut frame = image::GrayImage::from_pixel(640, 480, image::Luma([wall]));
    image::imageops::overlay(&mut frame, &big, at.0, at.1);
    GrayFrame {
        width: 640,
        height: 480,
        pixels: frame.into_raw(),
    }
}

/// What [`fit_crop`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct CropFit {
    /// The medians: the crop that frames a detected face as the images were framed.
    pub crop: FaceCrop,
    /// Images tried, and those in which the detector found the face.
    pub images: usize,
    pub found: usize,
    /// Interquartile range of scale, dx and dy over the images found.
    pub iqr: [f64; 3],
}

/// Sizes (px) the images are shown at, in turn: the range of faces a bedside camera sees.
const FIT_SIDES: [u32; 4] = [128, 160, 192, 224];

/// Measures how `images` — training images, each a face framed as the model learnt it — sit
/// around the detector's box. Each is scaled up to one of several sizes and pasted into a
/// 640×480 frame of plain gray at a varying place, as a camera would show it; where the
/// detector's largest box has its centre inside the pasted square, the square is expressed
/// relative to the box ([`FaceCrop::between`]). The medians are the crop; fewer than 20 faces
/// found (or under a fifth of the images) is an error, since those images are not framed faces.
pub fn fit_crop(
    images: impl IntoIterator<Item = image::GrayImage>,
    detector: &mut Locator,
) -> Result<CropFit, VisionError> {
    let (mut scales, mut dxs, mut dys) = (vec![], vec![], vec![]);
    let mut tried = 0usize;
    for (i, img) in images.into_iter().enumerate() {
        tried += 1;
        let side = FIT_SIDES[i % FIT_SIDES.len()];
        let x = 40 + (i * 97 % (600 - side as usize)) as i64;
        let y = 20 + (i * 61 % (460 - side as usize)) as i64;
        let frame = face_in_frame(&img, side, (x, y), 70 + (i % 7) as u8 * 15);
        let Some(b) = detector.largest_upright(&frame)? else {
            continue;
        };
        let (cx, cy) = (
            b.x as i64 + b.width as i64 / 2,
            b.y as i64 + b.height as i64 / 2,
        );
        if !(x..x + side as i64).contains(&cx) || !(y..y + side as i64).contains(&cy) {
            continue;
        }
        let (s, dx, dy) = FaceCrop::between(&b, (x, y, side as i64));
        scales.push(s);
        dxs.push(dx);
        dys.push(dy);
    }
    let found = scales.len();
    if found < 20 || found * 5 < tried {
        return Err(VisionError::Model(format!(
            "the face detector found a face in {found} of {tried} training images: too few to \
             measure how they frame a face (are they face crops, at least 24 px?)"
        )));
    }
    let q = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        (at(0.5), at(0.75) - at(0.25))
    };
    let ((scale, si), (dx, xi), (dy, yi)) = (q(&mut scales), q(&mut dxs), q(&mut dys));
    let crop = FaceCrop::new(scale, dx, dy).map_err(|e| VisionError::Model(e.to_string()))?;
    Ok(CropFit {
        crop,
        images: tried,
        found,
        iqr: [si, xi, yi],
    })
}

/// Variance of the 4-neighbour Laplacian: low for blurred crops.
pub fn sharpness(px: &[u8], size: u32) -> f32 {
    let s = size as usize;
    if s < 3 || px.len() < s * s {
        return 0.0;
    }
    let mut vals = Vec::with_capacity((s - 2) * (s - 2));
    for y in 1..s - 1 {
        for x in 1..s - 1 {
            let c = px[y * s + x] as f32;
            let l = px[y * s + x - 1] as f32
                + px[y * s + x + 1] as f32
                + px[(y - 1) * s + x] as f32
                + px[(y + 1) * s + x] as f32
                - 4.0 * c;
            vals.push(l);
        }
    }
    let n = vals.len() as f32;
    let mean = vals.iter().sum::<f32>() / n;
    vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_are_model_sized_and_replicate_edges() {
        let frame = GrayFrame::new(100, 80, (0..8000).map(|i| (i % 100) as u8).collect()).unwrap();
        let face = FaceBox::square(0, 0, 40, 1.0);
        let c = crop_face(&frame, &face, &FaceCrop::margin(0.25), 48);
        assert_eq!(c.len(), 48 * 48);
        // The part left of the frame repeats column 0.
        assert_eq!(c[0], 0);
        let flat = vec![128u8; 48 * 48];
        let noisy: Vec<u8> = (0..48 * 48)
            .map(|i| if (i / 48 + i % 48) % 2 == 0 { 0 } else { 255 })
            .collect();
        assert_eq!(sharpness(&flat, 48), 0.0);
        assert!(sharpness(&noisy, 48) > 1000.0);
    }

    #[test]
    fn downscaling_keeps_facial_detail_sharp() {
        // Vertical stripes 8 px wide in a 192 px face box become 2 px wide at 48 px: about the
        // width of a mouth corner or an eyelid in a FER-2013 face. The crop must keep most of
        // their contrast (Lanczos keeps 91% of it, a triangle filter 75%).
        let frame = GrayFrame::new(
            320,
            240,
            (0..320 * 240)
                .map(|i| if (i % 320) / 8 % 2 == 0 { 40 } else { 200 })
                .collect(),
        )
        .unwrap();
        let face = FaceBox::square(64, 24, 192, 1.0);
        let c = crop_face(&frame, &face, &FaceCrop::margin(0.0), 48);
        let row = &c[24 * 48 + 8..24 * 48 + 40];
        let (lo, hi) = (*row.iter().min().unwrap(), *row.iter().max().unwrap());
        let kept = (hi - lo) as f32 / 160.0;
        assert!(kept > 0.8, "contrast kept {kept:.2} ({lo}..{hi})");
    }
}
