//! Areya's shared vocabulary: the emotions Areya reports, face boxes and identifiers.
//!
//! This crate holds types only — no tensors, no I/O, no async runtime — so that every other
//! crate (the trainer, the vision pipeline, the monitor and the server) speaks the same words.

pub mod emotion;
pub mod face;

pub use emotion::{Emotion, ParseEmotionError};
pub use face::FaceBox;
