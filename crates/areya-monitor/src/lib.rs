//! Areya's monitor: turns the stream of observations into what the care team needs — who needs
//! attention now, and an alert when negative emotion (angry, sad) is sustained — with the
//! discipline of clinical alarm systems (hysteresis, minimum duration, cool-down, escalation).
//!
//! Everything here is pure: no I/O, and time is always passed in (`now`, milliseconds since the
//! Unix epoch), so tests run hours of ward time in milliseconds.
//!
//! `window` folds observations into fixed windows → `state` keeps a patient's recent windows,
//! baseline and attention score → `rules` decides when a condition holds → `alerts` runs each
//! alert's lifecycle and escalation → `engine` runs them for a ward; `replay` re-runs stored
//! windows through candidate rules, `stay` sums a patient's days up for their doctor, `notice`
//! decides what reaches the doctor (never an alarm) and `fhir` exports a patient. Storing any of it is `areya-store`'s.

pub mod alerts;
pub mod directory;
pub mod engine;
pub mod fhir;
pub mod notice;
pub mod replay;
pub mod rules;
pub mod state;
pub mod stay;
pub mod window;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

pub const SECOND: Millis = 1000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
