//! Every user action that changes the ward engine, as one type, and the one seam that runs
//! it: [`App::run`] applies a [`Command`] here when this server runs the engine, and hands it
//! to the server that does otherwise (`cluster.rs` queues it in PostgreSQL; the leader applies
//! it with [`App::apply`], the same code a single server runs). A new action is a variant, an
//! arm of `apply` and a route.

use crate::app::{AlertAct, App};
use crate::error::AppError;
use crate::live::{Live, LiveEvent};
use areya_core::PatientId;
use areya_monitor::engine::{Consent, Output};
use areya_monitor::rules::RuleSet;
use areya_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A change to the ward engine: what a follower hands to the leader, in the form it is
/// queued in the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Acknowledge or snooze an open alert.
    Act { id: u64, by: String, act: AlertAct },
    /// Alerts shown to a clinician of their ward have reached a device: raised → delivered.
    Delivered { ids: Vec<u64> },
    /// The edge says the model fails (`Some(reason)`) or works (`None`) on a patient's frames.
    ModelHealth {
        ward: String,
        patient: PatientId,
        error: Option<String>,
    },
    /// A patient's consent changes (pausing or opting out ends their open alerts).
    Consent {
        patient: PatientId,
        consent: Consent,
    },
    /// A new rule file (validated, versioned, applied at once); answers its version.
    Rules { author: String, toml: String },
}

impl App {
    /// Runs `cmd` where the ward engine is: here, or on the engine leader of a cluster.
    pub async fn run(&self, cmd: Command) -> Result<Value, AppError> {
        match self.follower() {
            Some(c) => self.forward(c, cmd).await,
            None => self.apply(cmd).await,
        }
    }

    /// Replaces the rule file; answers the stored version.
    pub async fn set_rules(&self, author: &str, toml: &str) -> Result<i64, AppError> {
        // Checked here too, so a bad file is refused even when no leader answers.
        RuleSet::from_toml(toml).map_err(|e| AppError::Refused(e.0))?;
        let cmd = Command::Rules {
            author: author.to_string(),
            toml: toml.to_string(),
        };
        let version = self.run(cmd).await?;
        version.as_i64().ok_or_else(|| {
            AppError::Unavailable(format!(
                "the engine leader answered {version}, not a version"
            ))
        })
    }

    /// Applies `cmd` to this server's engine (a single server's, or the leader's).
    pub(crate) async fn apply(&self, cmd: Command) -> Result<Value, AppError> {
        let done = |r: Result<(), AppError>| r.map(|()| Value::Null);
        match cmd {
            Command::Act { id, by, act } => done(self.act(id, &by, act).await),
            Command::Delivered { ids } => done(self.delivered(&ids).await),
            Command::ModelHealth {
                ward,
                patient,
                error,
            } => done(self.model_health(&ward, &patient, error.as_deref()).await),
            Command::Consent { patient, consent } => {
                done(self.set_consent(&patient, consent).await)
            }
            Command::Rules { author, toml } => {
                let rules = RuleSet::from_toml(&toml).map_err(|e| AppError::Refused(e.0))?;
                let mut engine = self.engine().await;
                let version = self.store.save_rules(self.now(), &author, &toml).await?;
                engine.set_rules(rules);
                Ok(version.into())
            }
        }
    }

    async fn act(&self, id: u64, by: &str, act: AlertAct) -> Result<(), AppError> {
        let now = self.now();
        let mut engine = self.engine().await;
        let events = match act {
            AlertAct::Acknowledge { actionable, reason } => {
                engine.alerts.acknowledge(id, by, actionable, reason, now)
            }
            AlertAct::Snooze { seconds } => engine.alerts.snooze(id, seconds, now),
        }
        .map_err(|e| match e {
            areya_monitor::alerts::AlertError::NotOpen(_) => AppError::NotFound(e.to_string()),
            e => AppError::Refused(e.words()),
        })?;
        let outputs = events
            .into_iter()
            .map(|event| Output::Alert { event })
            .collect();
        self.commit(&engine, outputs).await
    }

    async fn delivered(&self, ids: &[u64]) -> Result<(), AppError> {
        let now = self.now();
        let mut engine = self.engine().await;
        let mut outputs = Vec::new();
        for &id in ids {
            // Already resolved meanwhile: nothing to deliver.
            if let Ok(events) = engine.alerts.delivered(id, now) {
                outputs.extend(events.into_iter().map(|event| Output::Alert { event }));
            }
        }
        self.commit(&engine, outputs).await
    }

    async fn model_health(
        &self,
        ward: &str,
        p: &PatientId,
        error: Option<&str>,
    ) -> Result<(), AppError> {
        match self.directory().bed_of(p) {
            Some((w, _)) if w.id == ward => {}
            _ => {
                return Err(AppError::refused(format!(
                    "health.patient: '{p}' is not in a bed of this device's ward '{ward}'"
                )))
            }
        }
        let now = self.now();
        let mut engine = self.engine().await;
        let outputs = engine.model_error(p, error, now);
        self.commit(&engine, outputs).await
    }

    /// Stored first; opting out forgets what was stored, and the engine ends the patient's
    /// open alerts when monitoring stops.
    async fn set_consent(&self, p: &PatientId, c: Consent) -> Result<(), AppError> {
        let mut engine = self.engine().await;
        self.store.set_consent(p, c).await?;
        let outputs = engine.change_consent(p, c, self.now());
        self.commit(&engine, outputs).await?;
        drop(engine);
        self.emit(vec![Live {
            ward: self.ward_of(p),
            event: LiveEvent::Consent {
                patient: p.clone(),
                consent: c,
            },
        }])
        .await;
        Ok(())
    }
}
