//! Annotated frames for `areya watch --annotate DIR` (the only way a frame reaches the disk):
//! the bed area, the patient's face box, its landmarks, the top emotion with its probability,
//! the detector's certainty under the box, and in the top-right corner the aligned crop the
//! model classified.

use crate::pipeline::Seen;
use crate::roi::Roi;
use crate::GrayFrame;
use ab_glyph::{FontRef, PxScale};
use areya_core::SeenFace;
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut, draw_text_mut};
use imageproc::rect::Rect;

const CYAN: Rgb<u8> = Rgb([0, 151, 167]);
const YELLOW: Rgb<u8> = Rgb([242, 183, 5]);
const GREEN: Rgb<u8> = Rgb([46, 125, 50]);
const MAGENTA: Rgb<u8> = Rgb([216, 27, 96]);

/// The frame in colour with the ROI (cyan), the face box (yellow when the negative share is
/// over one half, green otherwise, two pixels wide), the landmarks (magenta; the eyes larger),
/// a label such as `sad 72%`, BlazeFace's score under the box (`face 0.87`), and the crop the
/// model saw, three times its size, top right.
pub fn annotate(frame: &GrayFrame, roi: Option<&Roi>, seen: &Seen) -> RgbImage {
    let o = &seen.observation;
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
    let Some(SeenFace {
        bbox: f, probs: p, ..
    }) = o.face
    else {
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
    if let Some(points) = &seen.landmarks {
        for (i, &(x, y)) in points.iter().enumerate() {
            let r = if i < 2 { 3 } else { 2 };
            imageproc::drawing::draw_filled_circle_mut(
                &mut img,
                (x.round() as i32, y.round() as i32),
                r,
                MAGENTA,
            );
        }
    }
    if let Some(crop) = &seen.crop {
        let side = (crop.len() as f64).sqrt() as u32;
        if side > 0 && side as usize * side as usize == crop.len() {
            let small = image::GrayImage::from_raw(side, side, crop.clone()).unwrap_or_default();
            let big = image::imageops::resize(
                &small,
                side * 3,
                side * 3,
                image::imageops::FilterType::Nearest,
            );
            let x0 = i64::from(img.width()) - i64::from(side * 3) - 4;
            if x0 >= 0 && img.height() >= side * 3 + 8 {
                let rgb = RgbImage::from_fn(big.width(), big.height(), |x, y| {
                    let v = big.get_pixel(x, y)[0];
                    Rgb([v, v, v])
                });
                image::imageops::overlay(&mut img, &rgb, x0, 4);
                draw_hollow_rect_mut(
                    &mut img,
                    Rect::at(x0 as i32 - 1, 3).of_size(side * 3 + 2, side * 3 + 2),
                    colour,
                );
            }
        }
    }
    let top = p.top();
    let label = format!("{top} {:.0}%", p.get(top) * 100.0);
    if let Ok(font) = FontRef::try_from_slice(dejavu::sans::bold()) {
        tag(
            &mut img,
            &font,
            (f.x, (f.y - 20).max(0)),
            16,
            &label,
            colour,
        );
        // BlazeFace's certainty (0..1; its faces carry landmarks), under the box: what an
        // engineer placing a camera checks at night.
        if seen.landmarks.is_some() {
            let y = (f.y + f.height as i32 + 2)
                .min(img.height() as i32 - 18)
                .max(0);
            let sure = format!("face {:.2}", f.score);
            tag(&mut img, &font, (f.x, y), 14, &sure, colour);
        }
    }
    img
}

/// `text` in black on a `colour` band `px` + 4 pixels high, its top-left corner at `at`.
fn tag(img: &mut RgbImage, font: &FontRef, at: (i32, i32), px: u32, text: &str, colour: Rgb<u8>) {
    // DejaVu Sans Bold's advance is a little over half its size.
    let w = (px * 9 / 16 + 1) * text.chars().count() as u32 + 8;
    draw_filled_rect_mut(img, Rect::at(at.0, at.1).of_size(w, px + 4), colour);
    draw_text_mut(
        img,
        Rgb([0, 0, 0]),
        at.0 + 4,
        at.1 + 1,
        PxScale::from(px as f32),
        font,
        text,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use areya_core::{FaceBox, Observation, PatientId, Probabilities, SourceId};

    #[test]
    fn draws_the_box_the_label_and_the_roi() {
        let frame = GrayFrame::new(200, 160, vec![100; 200 * 160]).unwrap();
        let o = Observation {
            source: SourceId::parse("cam").unwrap(),
            patient: PatientId::parse("p").unwrap(),
            at_ms: 0,
            frame: 0,
            face: Some(SeenFace::new(
                FaceBox::square(60, 50, 60, 0.87),
                Probabilities::new(0.1, 0.05, 0.15, 0.7).unwrap(),
            )),
        };
        let roi = Roi {
            x: 10,
            y: 10,
            width: 180,
            height: 140,
        };
        let seen = |o: Observation| Seen {
            observation: o,
            landmarks: Some([
                (70.0, 70.0),
                (100.0, 70.0),
                (85.0, 85.0),
                (85.0, 100.0),
                (62.0, 75.0),
                (108.0, 75.0),
            ]),
            roll: Some(0.0),
            crop: None,
        };
        let img = annotate(&frame, Some(&roi), &seen(o.clone()));
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
        let score_pixels = (60..120)
            .flat_map(|x| (112..130).map(move |y| (x, y)))
            .filter(|&(x, y)| *img.get_pixel(x, y) == Rgb([0, 0, 0]))
            .count();
        assert!(score_pixels > 20, "detector score drawn: {score_pixels}");
        assert_eq!(*img.get_pixel(70, 70), MAGENTA, "the right eye");
        let none = Observation { face: None, ..o };
        assert_eq!(
            *annotate(&frame, None, &seen(none)).get_pixel(60, 80),
            Rgb([100, 100, 100])
        );
    }
}
