//! `areya demo`: the README's main job. Starts the server on SQLite (in `--data-dir`) with a
//! ward of 12 beds, the demo staff and rules on a demo time scale, feeds it scripted readings
//! once a second, and prints the URL and the logins. With `--faces DIR` each bed's camera shows
//! real face images (FER layout: DIR/<class>/*.jpg) pasted into 640×480 frames, which go
//! through the real vision pipeline — face detection, crop, the shipped model — instead of
//! simulated probabilities.

use super::serve::{bind_listener, open_sqlite, runtime, shutdown_signal};
use anyhow::Context;
use areya_server::demo::{self, Simulated};
use areya_server::setup::{install_demo, DEMO_STAFF};
use areya_server::App;
use areya_store::Store;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Where the demo's SQLite database lives (kept between runs).
    #[arg(long, default_value = "runs/demo-ward")]
    pub data_dir: PathBuf,
    /// The password of every demo login.
    #[arg(long, default_value = "areya-demo-2026")]
    pub password: String,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Real faces: a FER-layout folder (DIR/angry, DIR/happy, DIR/neutral, DIR/sad) whose
    /// images each bed's camera shows, classified by the real vision pipeline.
    #[arg(long)]
    pub faces: Option<PathBuf>,
    /// Run directory of the model used with --faces (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// `--faces`: real face images through the real vision pipeline (the model build only).
#[cfg(feature = "model")]
mod faces {
    use super::*;

    /// Real face images through the real pipeline: each reading picks an image of an emotion
    /// drawn from the script's mix, pastes it into a 640×480 frame at the bed, and observes it.
    struct FaceReadings {
        pipeline: areya_vision::pipeline::Pipeline,
        /// Image paths per emotion, in Areya's order (angry, happy, relaxed, sad).
        images: [Vec<PathBuf>; 4],
        rng: u64,
    }

    impl FaceReadings {
        fn open(dir: &std::path::Path, model: Option<PathBuf>) -> anyhow::Result<FaceReadings> {
            let clf = areya_ml::Classifier::load(&crate::commands::default_model(model)?)?;
            let locator = areya_vision::pipeline::Locator::bedside(Default::default(), None)?;
            let pipeline = areya_vision::pipeline::Pipeline::new(clf, locator)?;
            let list = |names: &[&str]| -> anyhow::Result<Vec<PathBuf>> {
                let mut out = Vec::new();
                for n in names {
                    let d = dir.join(n);
                    if !d.is_dir() {
                        continue;
                    }
                    for e in std::fs::read_dir(&d)
                        .with_context(|| format!("--faces: cannot read {}", d.display()))?
                    {
                        let p = e?.path();
                        if areya_vision::source::is_image_path(&p) {
                            out.push(p);
                        }
                    }
                }
                out.sort();
                if out.is_empty() {
                    anyhow::bail!(
                        "--faces {}: no images in {}",
                        dir.display(),
                        names.join(" or ")
                    );
                }
                Ok(out)
            };
            Ok(FaceReadings {
                pipeline,
                images: [
                    list(&["angry"])?,
                    list(&["happy"])?,
                    list(&["relaxed", "neutral"])?,
                    list(&["sad"])?,
                ],
                rng: 0x2545_F491_4F6C_DD1D,
            })
        }

        fn next(&mut self) -> u64 {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            self.rng
        }

        fn frame(&mut self, bed: usize, mix: [f32; 4]) -> Option<areya_vision::GrayFrame> {
            let u = (self.next() % 10_000) as f32 / 10_000.0;
            let mut acc = 0.0;
            let class = mix
                .iter()
                .position(|&m| {
                    acc += m;
                    u < acc
                })
                .unwrap_or(2);
            let pick = self.next();
            let imgs = &self.images[class];
            let face = image::open(&imgs[(pick % imgs.len() as u64) as usize])
                .ok()?
                .to_luma8();
            // A plain wall behind the bed, the face where the pillow is.
            Some(areya_vision::crop::face_in_frame(
                &face,
                176,
                (232, 120),
                96 + (bed as u8 % 4) * 8,
            ))
        }
    }

    type Reading = areya_core::SeenFace;

    impl FaceReadings {
        fn read(&mut self, bed: usize, mix: [f32; 4]) -> Option<Reading> {
            let frame = self.frame(bed, mix)?;
            let meta = areya_vision::pipeline::FrameMeta {
                source: areya_server::setup::demo_source(bed),
                patient: areya_server::setup::demo_patient(bed)?,
                at_ms: 0,
                frame: 0,
                roi: None,
            };
            match self.pipeline.observe(&[(frame, meta)]) {
                Ok(mut o) => {
                    let o = o.pop()?;
                    o.face
                }
                Err(e) => {
                    tracing::warn!("demo --faces: {e}");
                    None
                }
            }
        }
    }

    /// The face detector is not `Send`: the pipeline lives on its own thread and readings are
    /// asked for over channels.
    pub(super) struct OnThread {
        ask: std::sync::mpsc::Sender<(usize, [f32; 4])>,
        answer: std::sync::mpsc::Receiver<Option<Reading>>,
    }

    impl OnThread {
        pub(super) fn start(dir: PathBuf, model: Option<PathBuf>) -> anyhow::Result<OnThread> {
            let (ask, asked) = std::sync::mpsc::channel::<(usize, [f32; 4])>();
            let (answer_tx, answer) = std::sync::mpsc::channel();
            let (ready_tx, ready) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut r = match FaceReadings::open(&dir, model) {
                    Ok(r) => {
                        let _ = ready_tx.send(Ok(()));
                        r
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                for (bed, mix) in asked {
                    if answer_tx.send(r.read(bed, mix)).is_err() {
                        return;
                    }
                }
            });
            ready
                .recv()
                .context("--faces: the vision thread stopped")??;
            Ok(OnThread { ask, answer })
        }
    }

    impl demo::Readings for OnThread {
        fn read(&mut self, bed: usize, mix: [f32; 4]) -> Option<Reading> {
            self.ask.send((bed, mix)).ok()?;
            self.answer.recv().ok()?
        }
    }
}

/// When the demo's script started on this data directory (ms since the epoch): read from
/// `script-start` there, or `now` written there on the first start. A restart then goes on
/// with the story instead of starting it again.
fn script_start(dir: &std::path::Path, now: i64) -> anyhow::Result<i64> {
    let file = dir.join("script-start");
    match std::fs::read_to_string(&file) {
        Ok(text) => match text.trim().parse::<i64>() {
            Ok(t) if t <= now => return Ok(t),
            _ => eprintln!(
                "{}: not a start time in the past ('{}'); starting the script again",
                file.display(),
                text.trim()
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
    std::fs::write(&file, format!("{now}\n"))
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(now)
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("--data-dir: cannot create {}", args.data_dir.display()))?;
    let db = format!("sqlite://{}", args.data_dir.join("areya.db").display());
    let readings: Box<dyn demo::Readings> = match &args.faces {
        #[cfg(feature = "model")]
        Some(dir) => Box::new(faces::OnThread::start(dir.clone(), args.model.clone())?),
        #[cfg(not(feature = "model"))]
        Some(_) => return Err(super::ModelMissing("demo --faces").into()),
        None => Box::new(Simulated::new(7)),
    };
    let banner = match &args.faces {
        Some(dir) => format!("Demo: each bed's camera shows face images from {} (no real camera), classified by the real vision pipeline; shortened time scale (10 s windows, alerts after 60 s).", dir.display()),
        None => "Demo: readings are simulated from a script (no camera), on a shortened time scale (10 s windows, alerts after 60 s).".to_string(),
    };
    runtime()?.block_on(async move {
        let store = open_sqlite(&db).await?;
        demo::seed_history(&store, areya_core::time::now_ms()).await?;
        let app = App::open(
            store,
            demo::demo_settings(banner),
            areya_server::system_clock(),
        )
        .await
        .with_context(|| format!("cannot start on {db}"))?;
        let device_token = areya_server::auth::new_token();
        install_demo(&app, &args.password, &device_token).await?;
        if app.store.current_rules().await?.map(|r| r.1).as_deref() != Some(demo::DEMO_RULES) {
            app.set_rules("demo", demo::DEMO_RULES).await?;
        }
        demo::prepare(&app).await?;
        let listener = bind_listener(&args.bind).await?;
        let url = format!("http://{}/", listener.local_addr()?);
        match &args.faces {
            Some(d) => println!(
                "Areya demo: ward 4B, 12 beds, face images from {} through the vision pipeline.",
                d.display()
            ),
            None => println!("Areya demo: ward 4B, 12 beds, readings simulated from a script."),
        }
        println!("Open {url}");
        println!("Log in as one of (password {}):", args.password);
        for (id, name, role) in DEMO_STAFF {
            println!("  {id:<7} {name} ({})", role.as_str());
        }
        println!("Database: {db}. Ctrl-C stops.");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let start = script_start(&args.data_dir, app.now())?;
        let feeder = tokio::spawn(demo::run(app.clone(), readings, start, stop_rx));
        let seconds = args.seconds;
        let shutdown = async move {
            match seconds {
                Some(s) => tokio::select! {
                    _ = shutdown_signal() => {},
                    _ = tokio::time::sleep(std::time::Duration::from_secs(s)) => {},
                },
                None => shutdown_signal().await,
            }
            let _ = stop_tx.send(true);
        };
        areya_server::serve(listener, app, shutdown).await?;
        let _ = feeder.await;
        println!("Areya demo stopped.");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restarted_demo_goes_on_with_its_script() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(
            script_start(tmp.path(), 1_000).unwrap(),
            1_000,
            "first start"
        );
        assert_eq!(
            script_start(tmp.path(), 90_000).unwrap(),
            1_000,
            "a restart"
        );
        std::fs::write(tmp.path().join("script-start"), "soon").unwrap();
        assert_eq!(
            script_start(tmp.path(), 5_000).unwrap(),
            5_000,
            "unreadable: anew"
        );
        std::fs::write(tmp.path().join("script-start"), "99999999").unwrap();
        assert_eq!(
            script_start(tmp.path(), 6_000).unwrap(),
            6_000,
            "in the future: anew"
        );
    }
}
