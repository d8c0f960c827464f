//! CSVLogger: one row per epoch in `metrics.csv` (epoch, loss, accuracy, val_loss, val_accuracy,
//! lr, seconds), appended and flushed each epoch so a crash keeps every finished epoch.

use super::{restore_json, Action, Callback, EpochLogs};
use crate::error::{MlError, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const METRICS_FILE: &str = "metrics.csv";
const HEADER: &str = "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    rows: usize,
}

pub struct CsvLogger {
    path: PathBuf,
    state: State,
}

impl CsvLogger {
    pub fn new(run_dir: &Path) -> Self {
        CsvLogger {
            path: run_dir.join(METRICS_FILE),
            state: State::default(),
        }
    }

    /// Reads `metrics.csv` back.
    pub fn read(path: &Path) -> Result<Vec<EpochLogs>> {
        let mut rdr =
            csv::Reader::from_path(path).map_err(|e| MlError::run_dir(path, e.to_string()))?;
        rdr.deserialize()
            .map(|r| r.map_err(|e| MlError::run_dir(path, format!("bad row: {e}"))))
            .collect()
    }

    /// Keeps the header and the first `rows` rows: drops rows of an epoch that a crash
    /// interrupted before its checkpoint was written.
    fn truncate_to(&self, rows: usize) -> Result<()> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(MlError::io(&self.path, e)),
        };
        let kept: Vec<&str> = text.lines().take(rows + 1).collect();
        crate::rundir::write_atomic(&self.path, format!("{}\n", kept.join("\n")).as_bytes())
    }
}

impl Callback for CsvLogger {
    fn name(&self) -> &'static str {
        "csv_logger"
    }

    fn on_epoch_end(&mut self, l: &EpochLogs) -> Result<Vec<Action>> {
        let new = !self.path.exists();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| MlError::io(&self.path, e))?;
        let mut line = String::new();
        if new {
            line.push_str(HEADER);
            line.push('\n');
        }
        line.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:e},{:.2}\n",
            l.epoch, l.loss, l.accuracy, l.val_loss, l.val_accuracy, l.lr, l.seconds
        ));
        f.write_all(line.as_bytes())
            .and_then(|_| f.sync_data())
            .map_err(|e| MlError::io(&self.path, e))?;
        self.state.rows += 1;
        Ok(vec![])
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<()> {
        self.state = restore_json(self.name(), state)?;
        self.truncate_to(self.state.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::logs;

    #[test]
    fn writes_header_once_reads_back_and_truncates_on_restore() {
        let dir = tempfile::tempdir().unwrap();
        let mut cb = CsvLogger::new(dir.path());
        for e in 1..=3 {
            cb.on_epoch_end(&logs(e, 1.0 / e as f64)).unwrap();
        }
        let saved = cb.state();
        cb.on_epoch_end(&logs(4, 0.2)).unwrap(); // an epoch whose checkpoint never came
        let rows = CsvLogger::read(&dir.path().join(METRICS_FILE)).unwrap();
        assert_eq!(rows.len(), 4);
        assert!((rows[1].val_loss - 0.5).abs() < 1e-6);

        let mut resumed = CsvLogger::new(dir.path());
        resumed.restore(&saved).unwrap();
        assert_eq!(
            CsvLogger::read(&dir.path().join(METRICS_FILE))
                .unwrap()
                .len(),
            3
        );
        resumed.on_epoch_end(&logs(4, 0.3)).unwrap();
        let text = std::fs::read_to_string(dir.path().join(METRICS_FILE)).unwrap();
        assert_eq!(text.matches("epoch,").count(), 1);
        assert_eq!(text.lines().count(), 5);
    }
}
