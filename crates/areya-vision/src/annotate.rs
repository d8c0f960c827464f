//! Annotated frames for `areya watch --annotate DIR` (the only way a frame reaches the disk):
//! the bed area, the patient's face box, and the top emotion with its probability.

use crate::roi::Roi;
use crate::GrayFrame;
use ab_glyph::{FontRef, PxScale};
use areya_core::Observation;
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut, draw_text_mut};
use imageproc::rect::Rect;

const CYAN: Rgb<u8> = Rgb([0, 151, 167]);
const YELLOW: Rgb<u8> = Rgb([242, 183, 5]);
const GREEN: Rgb<u8> = Rgb([46, 125, 50]);

/// The frame in colour with the ROI (cyan), the face box (yellow when the negative share is
/// over one half, green otherwise, two pixels wide) and a label such as `sad 72%`.
pub fn annotate(frame: &GrayFrame, roi: Option<&Roi>, o: &Observation) -> RgbImage {
    let gray = frame.as_image();
    let mut img = RgbImage::from_fn(gray.width(), gray.height(), |x, y| {
        let v = gray.get_pixel(x, y)[0];
        Rgb([v, v, v])
    });
    if let Some(r) = roi {
        if r.width > 0 && r.height > 0 {
            draw_hollow_rect_mut(
                &mut img,
                Rect::at(r.x as i32, r.y as i32).of_size(r.width, r.height),
                CYAN,
            );
        }
    }
    let (Some(f), Some(p)) = (o.face, o.probs) else {
        return img;
    };
    let colour = if p.negative() > 0.5 { YELLOW } else { GREEN };
    for k in 0..2 {
        let (w, h) = (
            f.width.saturating_sub(2 * k),
            f.height.saturating_sub(2 * k),
        );
        if w > 0 && h > 0 {
            draw_hollow_rect_mut(
                &mut img,
                Rect::at(f.x + k as i32, f.y + k as i32).of_size(w, h),
                colour,
            );
        }
    }
    let top = p.top();
    let label = format!("{top} {:.0}%", p.get(top) * 100.0);
    if let Ok(font) = FontRef::try_from_slice(dejavu::sans::bold()) {
        let scale = PxScale::from(16.0);
        let y = (f.y - 20).max(0);
        let w = 9 * label.chars().count() as u32 + 8;
        draw_filled_rect_mut(&mut img, Rect::at(f.x, y).of_size(w, 20), colour);
        draw_text_mut(
            &mut img,
            Rgb([0, 0, 0]),
            f.x + 4,
            y + 1,
            scale,
            &font,
            &label,
        );
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;
    use areya_core::{FaceBox, PatientId, Probabilities, SourceId};

    #[test]
    fn draws_the_box_the_label_and_the_roi() {
        let frame = GrayFrame::new(200, 160, vec![100; 200 * 160]).unwrap();
        let o = Observation {
            source: SourceId::parse("cam").unwrap(),
            patient: PatientId::parse("p").unwrap(),
            at_ms: 0,
            frame: 0,
            face: Some(FaceBox {
                x: 60,
                y: 50,
                width: 60,
                height: 60,
                score: 3.0,
            }),
            probs: Some(Probabilities {
                angry: 0.1,
                happy: 0.05,
                relaxed: 0.15,
                sad: 0.7,
            }),
            quality: None,
        };
        let roi = Roi {
            x: 10,
            y: 10,
            width: 180,
            height: 140,
        };
        let img = annotate(&frame, Some(&roi), &o);
        assert_eq!(img.dimensions(), (200, 160));
        assert_eq!(*img.get_pixel(10, 80), CYAN, "ROI edge");
        assert_eq!(*img.get_pixel(60, 80), YELLOW, "negative face box");
        assert_eq!(
            *img.get_pixel(150, 140),
            Rgb([100, 100, 100]),
            "the rest untouched"
        );
        let label_pixels = (60..120)
            .flat_map(|x| (30..50).map(move |y| (x, y)))
            .filter(|&(x, y)| *img.get_pixel(x, y) == Rgb([0, 0, 0]))
            .count();
        assert!(label_pixels > 20, "label text drawn: {label_pixels}");
        let none = Observation {
            face: None,
            probs: None,
            ..o
        };
        assert_eq!(
            *annotate(&frame, None, &none).get_pixel(60, 80),
            Rgb([100, 100, 100])
        );
    }
}
