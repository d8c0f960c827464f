//! `areya replay`: re-runs stored windows through a candidate rule file and prints the alarm
//! burden per bed per day against the current rules, which alerts would appear or vanish, and
//! the notices each patient's doctor would have had — before a ward changes its rules.

use crate::with_store;
use anyhow::Context;
use areya_core::time::iso8601_utc;
use areya_monitor::directory::Directory;
use areya_monitor::replay::{diff, replay, replay_as, ReplayAs, ReplayedAlert};
use areya_monitor::rules::RuleSet;
use areya_monitor::state::StateConfig;
use areya_store::Store;
use clap::Args;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// sqlite://FILE or postgres://USER:PASSWORD@HOST/DB
    #[arg(long)]
    pub database: String,
    /// The candidate rule file (TOML).
    #[arg(long)]
    pub rules: PathBuf,
    #[command(flatten)]
    pub span: super::Span,
}

pub fn run(a: ReplayArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.rules)
        .with_context(|| format!("--rules: cannot read {}", a.rules.display()))?;
    let candidate =
        RuleSet::from_toml(&text).with_context(|| format!("--rules {}", a.rules.display()))?;
    let (from, to) = a.span.millis((i64::MIN, i64::MAX))?;
    super::serve::runtime()?.block_on(async {
        with_store!(&a.database, |store| report(
            &store, &candidate, &a.rules, from, to
        )
        .await)
    })
}

async fn report<S: Store>(
    store: &S,
    candidate: &RuleSet,
    path: &std::path::Path,
    from: i64,
    to: i64,
) -> anyhow::Result<()> {
    let windows = store.windows(None, from, to).await?;
    anyhow::ensure!(
        !windows.is_empty(),
        "no stored windows in the chosen time range"
    );
    let (version, current) = match store.current_rules().await? {
        Some((v, t)) => (format!("version {v}"), RuleSet::from_toml(&t)?),
        None => ("the defaults".to_string(), RuleSet::default()),
    };
    let dir: Directory = match store.directory().await? {
        Some((_, doc)) => serde_json::from_str(&doc).unwrap_or_default(),
        None => Directory::default(),
    };
    let bed =
        |p: &areya_core::PatientId| dir.bed_of(p).map_or("-".to_string(), |(_, b)| b.id.clone());
    let now = replay(&windows, &current, StateConfig::default())?;
    let new = replay(&windows, candidate, StateConfig::default())?;
    let first = windows.iter().map(|w| w.start_ms).min().unwrap_or(0);
    let last = windows.iter().map(|w| w.end_ms).max().unwrap_or(0);
    let patients: BTreeSet<_> = windows.iter().map(|w| &w.patient).collect();
    println!(
        "{} windows of {} patients, {} → {}",
        windows.len(),
        patients.len(),
        iso8601_utc(first),
        iso8601_utc(last)
    );
    println!(
        "current rules ({version}): {} alerts; candidate ({}): {} alerts",
        now.alerts.len(),
        path.display(),
        new.alerts.len()
    );
    println!("\nAlerts per bed per day (UTC):");
    println!(
        "{:<12} {:<10} {:<16} {:>8} {:>10}",
        "day", "bed", "patient", "current", "candidate"
    );
    let keys: BTreeSet<_> = now
        .per_bed_day
        .keys()
        .chain(new.per_bed_day.keys())
        .collect();
    for k in keys {
        let day = &iso8601_utc(k.1 * 86_400_000)[..10];
        let c = now.per_bed_day.get(k).copied().unwrap_or(0);
        let n = new.per_bed_day.get(k).copied().unwrap_or(0);
        println!(
            "{day:<12} {:<10} {:<16} {c:>8} {n:>10}",
            bed(&k.0),
            k.0.as_str()
        );
    }
    let (appear, vanish) = diff(&now, &new);
    let show = |title: &str, list: &[&ReplayedAlert]| {
        println!("\n{title} ({}):", list.len());
        for a in list {
            let end = a.resolved_ms.map_or("still open".to_string(), iso8601_utc);
            println!(
                "  {:<10} {:<16} {} → {end}",
                bed(&a.patient),
                a.patient.as_str(),
                iso8601_utc(a.raised_ms)
            );
        }
    };
    show("Would appear with the candidate rules", &appear);
    show("Would vanish with the candidate rules", &vanish);
    notice_report(&windows, &current, candidate, &bed);
    sight_report(&windows, candidate, &new)
}

/// The doctors' notices (never alarms) each rule set would have sent on these windows.
fn notice_report(
    windows: &[areya_monitor::window::WindowAggregate],
    current: &RuleSet,
    candidate: &RuleSet,
    bed: &dyn Fn(&areya_core::PatientId) -> String,
) {
    use areya_monitor::notice::replay_notices;
    let cfg = StateConfig::default();
    let now = replay_notices(windows, &current.doctor, cfg, &current.zone());
    let new = replay_notices(windows, &candidate.doctor, cfg, &candidate.zone());
    println!(
        "\nDoctors' notices (not alarms): current {}, candidate {}",
        now.len(),
        new.len()
    );
    for n in &new {
        println!(
            "  {:<10} {:<16} {} {:<10} {}",
            bed(&n.patient),
            n.patient.as_str(),
            iso8601_utc(n.at_ms),
            n.kind.as_str(),
            n.text
        );
    }
}

/// What each of the sight rules does on these windows with the candidate rules (`replayed`):
/// the alerts with the rule undone against the alerts as replayed.
fn sight_report(
    windows: &[areya_monitor::window::WindowAggregate],
    rules: &RuleSet,
    replayed: &areya_monitor::replay::Replay,
) -> anyhow::Result<()> {
    let alerts = replayed.alerts.len();
    let undone = |how: ReplayAs| -> anyhow::Result<usize> {
        Ok(replay_as(windows, rules, StateConfig::default(), how)?
            .alerts
            .len())
    };
    let clock = undone(ReplayAs {
        clock_time: true,
        ..ReplayAs::default()
    })?;
    let learning = undone(ReplayAs {
        learn_from_runs: true,
        ..ReplayAs::default()
    })?;
    let blind = replayed.alerts.iter().filter(|a| a.cannot_assess).count();
    let change = |without: usize| match alerts as i64 - without as i64 {
        0 => "no change".to_string(),
        d if d < 0 => format!("{} fewer", -d),
        d => format!("{d} more"),
    };
    println!(
        "
What the sight rules change here (candidate rules, {alerts} alerts):"
    );
    println!(
        "  seen minutes, not clock time; blind gaps over max_blind_s end a run: {} (clock time: {clock})",
        change(clock)
    );
    println!(
        "  the baseline never learns from negative runs: {} (learning from them: {learning})",
        change(learning)
    );
    println!(
        "  alerts that would stop escalating and say \"cannot assess\" (patient unseen for cannot_assess_after_s): {blind}"
    );
    Ok(())
}
