//! The bed area of a camera (`--roi x,y,w,h`): only faces inside it are the patient's; staff
//! and visitors outside are never classified. Inside, the largest face is the patient's.

use crate::VisionError;
use areya_core::FaceBox;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roi {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Roi {
    /// Parses `x,y,w,h` (pixels of the frame).
    pub fn parse(s: &str) -> Result<Roi, VisionError> {
        let bad = || {
            VisionError::config(
                "roi",
                format!("'{s}' is not x,y,w,h in pixels with w, h > 0"),
            )
        };
        let v: Vec<u32> = s
            .split(',')
            .map(|p| p.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        match v[..] {
            [x, y, width, height] if width > 0 && height > 0 => Ok(Roi {
                x,
                y,
                width,
                height,
            }),
            _ => Err(bad()),
        }
    }

    /// Whether the centre of `b` lies inside.
    pub fn contains_centre(&self, b: &FaceBox) -> bool {
        let cx = b.x as i64 + b.width as i64 / 2;
        let cy = b.y as i64 + b.height as i64 / 2;
        cx >= self.x as i64
            && cy >= self.y as i64
            && cx < (self.x + self.width) as i64
            && cy < (self.y + self.height) as i64
    }
}

/// The patient's face: the largest face whose centre is inside the ROI (anywhere without one).
pub fn patient_face(faces: &[FaceBox], roi: Option<&Roi>) -> Option<FaceBox> {
    faces
        .iter()
        .filter(|f| roi.is_none_or(|r| r.contains_centre(f)))
        .max_by_key(|f| f.area())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: i32, y: i32, s: u32) -> FaceBox {
        FaceBox::square(x, y, s, 3.0)
    }

    #[test]
    fn parse_cases() {
        assert_eq!(
            Roi::parse("10, 20,300,200").unwrap(),
            Roi {
                x: 10,
                y: 20,
                width: 300,
                height: 200
            }
        );
        for bad in ["", "1,2,3", "1,2,3,0", "a,b,c,d", "-1,2,3,4", "1,2,3,4,5"] {
            assert!(
                Roi::parse(bad).unwrap_err().to_string().starts_with("roi"),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_faces_in_the_bed_area_and_the_largest_wins() {
        let roi = Roi {
            x: 100,
            y: 100,
            width: 200,
            height: 200,
        };
        let visitor_big = b(400, 100, 120);
        let patient = b(150, 150, 60);
        let small_in_bed = b(120, 120, 30);
        assert_eq!(
            patient_face(&[visitor_big, small_in_bed, patient], Some(&roi)),
            Some(patient)
        );
        assert_eq!(
            patient_face(&[visitor_big], Some(&roi)),
            None,
            "a face outside the bed is never the patient"
        );
        assert_eq!(
            patient_face(&[visitor_big, patient], None),
            Some(visitor_big)
        );
        assert_eq!(patient_face(&[], None), None);
    }
}
