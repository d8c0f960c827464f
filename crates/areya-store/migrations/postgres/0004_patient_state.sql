-- What a restart must take over per patient besides the windows: the baseline (learned or being
-- learned), the status with its hysteresis and the alert condition's run. One row per patient,
-- replaced with every window.
CREATE TABLE patient_state (
    patient TEXT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    json TEXT NOT NULL
);
