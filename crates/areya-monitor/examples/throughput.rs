//! Observations per second through windows + state + rules + alerts (no storage yet).
//! `cargo run --release -p areya-monitor --example throughput [BEDS] [HOURS]`

use areya_core::{FaceBox, Observation, PatientId, Probabilities, SourceId};
use areya_monitor::engine::{Engine, EngineConfig};
use areya_monitor::rules::RuleSet;
use areya_monitor::SECOND;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let beds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let hours: i64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let patients: Vec<PatientId> = (0..beds)
        .map(|i| PatientId::parse(&format!("bed-{i:03}")).expect("valid id"))
        .collect();
    let source = SourceId::parse("cam").expect("valid id");
    // Pre-build the observations so only the engine is timed.
    let mut stream = Vec::with_capacity(beds * (hours * 3600) as usize);
    for s in 0..hours * 3600 {
        for (i, p) in patients.iter().enumerate() {
            let n = ((s as usize / 300 + i) % 10) as f32 / 10.0;
            let face = (s as usize + i) % 7 != 0;
            stream.push(Observation {
                source: source.clone(),
                patient: p.clone(),
                at_ms: s * SECOND,
                frame: s as u64,
                face: face.then_some(FaceBox {
                    x: 0,
                    y: 0,
                    width: 80,
                    height: 80,
                    score: 3.0,
                }),
                probs: face.then_some(Probabilities {
                    angry: n * 0.4,
                    happy: (1.0 - n) * 0.5,
                    relaxed: (1.0 - n) * 0.5,
                    sad: n * 0.6,
                }),
                quality: None,
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
}
