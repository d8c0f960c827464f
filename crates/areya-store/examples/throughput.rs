//! Observations per second through windows + state + rules + alerts, first in memory, then
//! with the SQLite store as the server uses it: each second's observations of all beds go into
//! the ingest log in one transaction, through the engine, and what the engine produced is saved
//! in a second transaction (`synchronous=FULL`, on a file).
//! `cargo run --release -p areya-store --example throughput [BEDS] [HOURS] [STORE_MINUTES]`

use areya_core::{FaceBox, Observation, PatientId, Probabilities, SeenFace, SourceId};
use areya_monitor::engine::{Engine, EngineConfig};
use areya_monitor::rules::RuleSet;
use areya_monitor::SECOND;
use areya_store::{Batch, SqliteStore, Store};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let beds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let hours: i64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let store_minutes: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(30);
    let patients: Vec<PatientId> = (0..beds)
        .map(|i| PatientId::parse(&format!("bed-{i:03}")).expect("valid id"))
        .collect();
    let sources: Vec<SourceId> = (0..beds)
        .map(|i| SourceId::parse(&format!("cam-{i:03}")).expect("valid id"))
        .collect();
    // Pre-build the observations so only the engine is timed.
    let mut stream = Vec::with_capacity(beds * (hours * 3600) as usize);
    for s in 0..hours * 3600 {
        for (i, p) in patients.iter().enumerate() {
            let n = ((s as usize / 300 + i) % 10) as f32 / 10.0;
            let face = !(s as usize + i).is_multiple_of(7);
            stream.push(Observation {
                source: sources[i].clone(),
                patient: p.clone(),
                at_ms: s * SECOND,
                frame: s as u64,
                face: face.then(|| {
                    SeenFace::new(
                        FaceBox::square(0, 0, 80, 3.0),
                        Probabilities::new(n * 0.4, (1.0 - n) * 0.5, (1.0 - n) * 0.5, n * 0.6)
                            .expect("a distribution"),
                    )
                }),
            });
        }
    }
    let mut engine = Engine::new(EngineConfig::default(), RuleSet::default());
    let start = Instant::now();
    let mut outputs = 0usize;
    for (k, o) in stream.iter().enumerate() {
        outputs += engine
            .ingest(o, o.at_ms)
            .expect("rules are valid")
            .map(|v| v.len())
            .unwrap_or(0);
        if k % beds == 0 {
            outputs += engine.tick(o.at_ms).expect("rules are valid").len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} observations ({beds} beds × {hours} h at 1/s) in {secs:.2} s: {:.0} observations/s through windows + state + rules + alerts ({outputs} outputs); goal ≥ 20,000/s incl. storage",
        stream.len(),
        stream.len() as f64 / secs
    );

    // With the store: the first STORE_MINUTES of the same stream.
    let n = (store_minutes * 60 * beds).min(stream.len());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("throughput.db").display());
    let (secs, saved) = rt.block_on(async {
        let store = SqliteStore::open(&url).await.expect("store");
        let mut engine = Engine::new(EngineConfig::default(), RuleSet::default());
        let start = Instant::now();
        let mut saved = 0usize;
        for second in stream[..n].chunks(beds) {
            let fresh = store.insert_observations(second).await.expect("ingest log");
            let mut out = Vec::new();
            for (o, new) in second.iter().zip(fresh) {
                if new {
                    out.extend(
                        engine
                            .ingest(o, o.at_ms)
                            .expect("rules are valid")
                            .unwrap_or_default(),
                    );
                }
            }
            out.extend(engine.tick(second[0].at_ms).expect("rules are valid"));
            let batch = Batch::from_outputs(&out, &engine.alerts);
            saved += batch.windows.len() + batch.assessments.len() + batch.events.len();
            if !batch.is_empty() {
                store.save(&batch).await.expect("save");
            }
        }
        (start.elapsed().as_secs_f64(), saved)
    });
    println!(
        "{n} observations ({beds} beds × {store_minutes} min) in {secs:.2} s: {:.0} observations/s through the ingest log + engine + SQLite store ({saved} records saved); goal ≥ 20,000/s → {:.2}× the goal",
        n as f64 / secs,
        n as f64 / secs / 20_000.0
    );
}
