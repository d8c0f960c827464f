//! Cutting the face out of a frame: a square around the box with a margin (edges replicated),
//! resized to the model's input; plus the crop's sharpness for quality.

use crate::GrayFrame;
use areya_core::FaceBox;

/// A square crop of `frame` around `face`, `margin` × the face size added on each side,
/// resized to `size`×`size`.
pub fn crop_face(frame: &GrayFrame, face: &FaceBox, margin: f32, size: u32) -> Vec<u8> {
    let side = (face.width.max(face.height) as f32 * (1.0 + 2.0 * margin))
        .round()
        .max(1.0) as i64;
    let cx = face.x as i64 + face.width as i64 / 2;
    let cy = face.y as i64 + face.height as i64 / 2;
    let (x0, y0) = (cx - side / 2, cy - side / 2);
    let (w, h) = (frame.width as i64, frame.height as i64);
    let mut square = image::GrayImage::new(side as u32, side as u32);
    for (x, y, p) in square.enumerate_pixels_mut() {
        let sx = (x0 + x as i64).clamp(0, w - 1);
        let sy = (y0 + y as i64).clamp(0, h - 1);
        p.0[0] = frame.pixels[(sy * w + sx) as usize];
    }
    image::imageops::resize(&square, size, size, image::imageops::FilterType::Triangle).into_raw()
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
        let face = FaceBox {
            x: 0,
            y: 0,
            width: 40,
            height: 40,
            score: 1.0,
        };
        let c = crop_face(&frame, &face, 0.25, 48);
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
}
