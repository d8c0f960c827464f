//! `areya fhir export`: a patient's windows, scores, alerts and days of the stay as a FHIR R4
//! Bundle (JSON), recorded in the audit log.

use crate::with_store;
use anyhow::Context;
use areya_core::PatientId;
use areya_core::Words;
use areya_monitor::directory::Directory;
use areya_store::AuditAction;
use areya_store::{AuditEntry, Store};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct FhirArgs {
    #[command(subcommand)]
    pub command: FhirCommand,
}

#[derive(Debug, Subcommand)]
pub enum FhirCommand {
    /// Write one patient's Bundle.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// sqlite://FILE or postgres://USER:PASSWORD@HOST/DB
    #[arg(long)]
    pub database: String,
    #[arg(long)]
    pub patient: String,
    #[command(flatten)]
    pub span: super::Span,
    /// Write here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: FhirArgs) -> anyhow::Result<()> {
    let FhirCommand::Export(a) = a.command;
    let patient = PatientId::parse(&a.patient).context("--patient")?;
    let now = areya_core::time::now_ms();
    let (from, to) = a.span.millis((0, now + 1))?;
    let bundle = super::serve::runtime()?.block_on(async {
        with_store!(&a.database, |store| export(&store, &patient, from, to, now)
            .await)
    })?;
    let text = serde_json::to_string_pretty(&bundle)?;
    match &a.out {
        Some(p) => super::write_file(p, text.as_bytes()),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

async fn export<S: Store>(
    store: &S,
    patient: &PatientId,
    from: i64,
    to: i64,
    now: i64,
) -> anyhow::Result<serde_json::Value> {
    let windows = store.windows(Some(patient), from, to).await?;
    let scores = store.assessments(patient, from, to).await?;
    let alerts: Vec<_> = store
        .alerts(Some(patient))
        .await?
        .into_iter()
        .filter(|a| a.raised_ms < to && a.updated_ms >= from)
        .collect();
    anyhow::ensure!(
        !windows.is_empty() || !alerts.is_empty(),
        "--patient {patient}: nothing stored in the chosen time range"
    );
    store
        .audit(&AuditEntry::new(
            now,
            &std::env::var("USER").unwrap_or_else(|_| "cli".into()),
            AuditAction::ExportFhir,
            Words::new("patient {id}").with("id", patient.as_str()),
            Words::new("areya fhir export"),
        ))
        .await?;
    // The hospital's identifiers of the patient, from the ward directory (none without one).
    let identifiers = match store.directory().await? {
        Some((_, text)) => serde_json::from_str::<Directory>(&text)
            .context("the stored ward directory")?
            .bed_of(patient)
            .map(|(_, b)| b.patient_identifiers.clone())
            .unwrap_or_default(),
        None => vec![],
    };
    // The ward's days, on the clock of the stored rules (UTC without any).
    let zone = match store.current_rules().await? {
        Some((_, text)) => areya_monitor::rules::RuleSet::from_toml(&text)
            .context("the stored rules")?
            .zone(),
        None => areya_core::time::WardZone::utc(),
    };
    let days = areya_monitor::stay::days_in(&windows, &scores, &alerts, &zone, (from, to));
    Ok(areya_monitor::fhir::bundle(
        patient,
        &identifiers,
        &windows,
        &scores,
        &alerts,
        now,
        &days,
    ))
}
