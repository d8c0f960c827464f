//! Areya's vision: frame sources (image files, and video files, streams and cameras decoded by
//! an `ffmpeg` child process), face detection for bedside poses (BlazeFace, embedded, run with
//! tract; a rotation search, alignment by the eyes and a track per camera) with SeetaFace's
//! upright cascade kept to compare against, the frame → [`areya_core::Observation`]
//! pipeline (bed area, the patient's face, aligned crop, classify with the emotion model on
//! libtorch or, exported to ONNX, on tract: [`model`]), and [`watch`], which runs it over many
//! beds' sources at once. Built without the `libtorch` feature it links no libtorch: the edge
//! agent's build.

pub mod annotate;
pub mod bedside;
pub mod blazeface;
pub mod crop;
pub mod detect;
pub mod error;
pub mod model;
pub mod pipeline;
pub mod reconnect;
pub mod roi;
pub mod scene;
pub mod source;
pub mod view;
pub mod watch;

pub use error::VisionError;

/// A grayscale frame, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayFrame {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl GrayFrame {
    pub fn new(width: u32, height: u32, pixels: Vec<u8>) -> Result<Self, VisionError> {
        if width == 0 || height == 0 || pixels.len() != width as usize * height as usize {
            return Err(VisionError::Frame(format!(
                "{width}×{height} frame with {} bytes",
                pixels.len()
            )));
        }
        Ok(GrayFrame {
            width,
            height,
            pixels,
        })
    }

    pub fn from_image(img: &image::DynamicImage) -> Result<Self, VisionError> {
        let g = img.to_luma8();
        GrayFrame::new(g.width(), g.height(), g.into_raw())
    }

    pub fn as_image(&self) -> image::GrayImage {
        image::GrayImage::from_raw(self.width, self.height, self.pixels.clone()).unwrap_or_default()
    }
}
