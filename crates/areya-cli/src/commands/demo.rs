//! `areya demo`: the README's main job. Starts the server on SQLite (in `--data-dir`) with a
//! ward of 12 beds, the demo staff and rules on a demo time scale, feeds it scripted readings
//! once a second, and prints the URL and the logins.

use super::serve::{bind_listener, open_store, runtime, shutdown_signal};
use anyhow::Context;
use areya_monitor::store::Store;
use areya_server::demo::{self, Simulated};
use areya_server::setup::{install_demo, DEMO_STAFF};
use areya_server::App;
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
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("--data-dir: cannot create {}", args.data_dir.display()))?;
    let db = format!("sqlite://{}", args.data_dir.join("areya.db").display());
    let banner = "Demo: readings are simulated from a script (no camera), on a shortened time scale (10 s windows, alerts after 60 s).".to_string();
    runtime()?.block_on(async move {
        let store = open_store(&db).await?;
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
        println!("Areya demo: ward 4B, 12 beds, readings simulated from a script.");
        println!("Open {url}");
        println!("Log in as one of (password {}):", args.password);
        for (id, name, role) in DEMO_STAFF {
            println!("  {id:<7} {name} ({})", role.as_str());
        }
        println!("Database: {db}. Ctrl-C stops.");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let feeder = tokio::spawn(demo::run(app.clone(), Box::new(Simulated::new(7)), stop_rx));
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
