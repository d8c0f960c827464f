//! `areya serve`: the server on SQLite (default) with the clinician dashboard. Settings come
//! from flags, then the environment (`AREYA_BIND`, `AREYA_DATABASE`, `AREYA_ADMIN_PASSWORD`),
//! then `--config FILE` (TOML), then defaults. Stops gracefully on Ctrl-C or SIGTERM.

use anyhow::{bail, Context};
use areya_core::Words;
use areya_server::{App, Role, Settings};
use areya_store::AuditAction;
use areya_store::{PgCluster, PgStore, SqliteStore, Store};
use clap::Args;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: AREYA_BIND] [default: 127.0.0.1:8080].
    #[arg(long)]
    pub bind: Option<String>,
    /// sqlite://FILE (default sqlite://areya.db) or postgres://USER:PASSWORD@HOST/DB
    /// [env: AREYA_DATABASE].
    #[arg(long)]
    pub database: Option<String>,
    /// A TOML file with any of: bind, database, rules (a rule file's path), retention_days,
    /// source_offline_after_s, session_hours, window_s, horizon_s, secure_cookie,
    /// trust_forwarded_for, max_future_s, header_read_timeout_s, max_connections.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Apply this rule file at start (stored as a new version when it differs).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Post every alert notification, escalation step and doctor's notice to this URL (the
    /// hospital's messaging gateway), signed with the secret of --webhook-secret-file.
    #[arg(long, requires = "webhook_secret_file")]
    pub webhook: Option<String>,
    /// A file holding the webhook's shared secret (at least 16 bytes; one trailing newline
    /// is not part of it).
    #[arg(long, requires = "webhook")]
    pub webhook_secret_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    pub bind: Option<String>,
    pub database: Option<String>,
    pub rules: Option<PathBuf>,
    pub retention_days: Option<u32>,
    pub source_offline_after_s: Option<u32>,
    pub session_hours: Option<u32>,
    /// Window length in seconds (default 60).
    pub window_s: Option<u32>,
    /// How far back the attention score looks, in seconds (default 900).
    pub horizon_s: Option<u32>,
    /// Mark the session cookie Secure (set when a TLS proxy is in front).
    pub secure_cookie: Option<bool>,
    /// Take clients' addresses from X-Forwarded-For (only behind a proxy that sets it).
    pub trust_forwarded_for: Option<bool>,
    /// How far ahead of the server's clock an observation may be stamped (default 30).
    pub max_future_s: Option<u32>,
    /// Close a connection that has not sent a request head within this (default 10).
    pub header_read_timeout_s: Option<u32>,
    /// Open connections at most (default 1024).
    pub max_connections: Option<u32>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let file: ServeFile = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("--config: cannot read {}", p.display()))?;
            toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", p.display(), e.message()))?
        }
        None => ServeFile::default(),
    };
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let bind = args
        .bind
        .or(env("AREYA_BIND"))
        .or(file.bind)
        .unwrap_or("127.0.0.1:8080".into());
    let database = args
        .database
        .or(env("AREYA_DATABASE"))
        .or(file.database)
        .unwrap_or("sqlite://areya.db".into());
    let mut settings = Settings::default();
    if let Some(s) = file.source_offline_after_s {
        settings.source_offline_after_ms = i64::from(s.max(5)) * 1000;
    }
    if let Some(h) = file.session_hours {
        settings.session_ms = i64::from(h.clamp(1, 24 * 7)) * 3_600_000;
    }
    if let Some(w) = file.window_s {
        settings.engine.window_ms = i64::from(w.clamp(1, 3600)) * 1000;
    }
    if let Some(h) = file.horizon_s {
        settings.engine.state.horizon_ms = i64::from(h.clamp(10, 24 * 3600)) * 1000;
    }
    settings.secure_cookie = file.secure_cookie.unwrap_or(false);
    settings.trust_forwarded_for = file.trust_forwarded_for.unwrap_or(false);
    if let Some(s) = file.max_future_s {
        settings.max_future_ms = i64::from(s.clamp(1, 600)) * 1000;
    }
    if let Some(s) = file.header_read_timeout_s {
        settings.limits.header_read_timeout_ms = i64::from(s.clamp(1, 300)) * 1000;
    }
    if let Some(n) = file.max_connections {
        settings.limits.max_connections = n.clamp(16, 1 << 20) as usize;
    }
    if let (Some(url), Some(file)) = (&args.webhook, &args.webhook_secret_file) {
        let mut secret = std::fs::read(file)
            .with_context(|| format!("--webhook-secret-file: cannot read {}", file.display()))?;
        if secret.last() == Some(&b'\n') {
            secret.pop();
        }
        use areya_server::webhook::{WebhookError, WebhookSettings};
        let hook = WebhookSettings::new(url, secret).map_err(|e| match e {
            WebhookError::Url(_) | WebhookError::NoTls(_) => anyhow::anyhow!("--webhook: {e}"),
            WebhookError::ShortSecret(_) => {
                anyhow::anyhow!("--webhook-secret-file {}: {e}", file.display())
            }
        })?;
        settings.webhook = Some(hook);
    }
    let retention_days = file.retention_days.unwrap_or(30).max(1);
    let rules = args.rules.or(file.rules);
    let job = Job {
        bind,
        database: database.clone(),
        settings,
        rules,
        retention_days,
    };
    runtime()?.block_on(async move {
        let shown_db = redact(&database);
        let clock = areya_server::system_clock();
        if is_postgres(&database) {
            // One of possibly several servers on this database: whichever holds the leader
            // lock runs the ward engine, the others hand it their work.
            let store = PgStore::open(&database)
                .await
                .with_context(|| format!("--database {shown_db}"))?;
            let cluster = PgCluster::new(&store, node_name(&job.bind));
            let app = App::open_cluster(store, cluster, job.settings.clone(), clock)
                .await
                .with_context(|| format!("cannot start on {shown_db}"))?;
            job.run(app).await
        } else {
            let store = open_sqlite(&database).await?;
            let app = App::open(store, job.settings.clone(), clock)
                .await
                .with_context(|| format!("cannot start on {shown_db}"))?;
            job.run(app).await
        }
    })
}

struct Job {
    bind: String,
    database: String,
    settings: Settings,
    rules: Option<PathBuf>,
    retention_days: u32,
}

impl Job {
    async fn run(self, app: Arc<App>) -> anyhow::Result<()> {
        let shown_db = redact(&self.database);
        if let Some(path) = self.rules {
            apply_rules(&app, &path).await?;
        }
        // Listen before creating the first admin, so a password is never shown for a server
        // that then could not start.
        let listener = bind_listener(&self.bind).await?;
        if app.directory_version() == 0 {
            let env = std::env::var("AREYA_ADMIN_PASSWORD")
                .ok()
                .filter(|v| !v.is_empty());
            let (password, shown) = match env {
                Some(p) => (p, false),
                None => (areya_server::auth::new_token()[..20].to_string(), true),
            };
            match areya_server::setup::bootstrap_admin(&app, &password).await {
                Ok(false) => {}
                Ok(true) if shown => eprintln!("First start: created user 'admin' with password {password} (shown once; change it after logging in)."),
                Ok(true) => eprintln!("First start: created user 'admin' with the password from AREYA_ADMIN_PASSWORD."),
                // Another server of the cluster set the directory up at the same moment.
                Err(areya_server::AppError::Conflict(_)) if app.role() != Role::Single => {
                    app.reload_directory().await?;
                    eprintln!("Another server created the first admin; use its password.");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let role = match app.role() {
            Role::Single => String::new(),
            Role::Leader => ", running the ward engine".into(),
            Role::Follower => ", another server runs the ward engine".into(),
        };
        println!(
            "Areya is serving on http://{}/ (database {shown_db}{role})",
            listener.local_addr()?
        );
        let purge = tokio::spawn(purge_loop(app.clone(), self.retention_days));
        areya_server::serve(listener, app, shutdown_signal()).await?;
        purge.abort();
        println!("Areya stopped.");
        Ok(())
    }
}

/// Runs `$body` with `$store` bound to the store a `--database` URL names (SQLite or
/// PostgreSQL), so one generic function serves both.
#[macro_export]
macro_rules! with_store {
    ($url:expr, |$store:ident| $body:expr) => {{
        let url: &str = $url;
        if $crate::commands::serve::is_postgres(url) {
            let $store = areya_store::PgStore::open(url)
                .await
                .with_context(|| format!("--database {}", $crate::commands::serve::redact(url)))?;
            $body
        } else {
            let $store = $crate::commands::serve::open_sqlite(url).await?;
            $body
        }
    }};
}

pub use areya_store::is_postgres;

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(at)) if rest.contains(':') => {
            let user = rest.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***{}", &url[at..])
        }
        _ => url.to_string(),
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Opens a `sqlite:` `--database` URL.
pub async fn open_sqlite(url: &str) -> anyhow::Result<SqliteStore> {
    if !url.starts_with("sqlite:") {
        bail!("--database {url}: expected sqlite://FILE or postgres://USER:PASSWORD@HOST/DB");
    }
    SqliteStore::open(url)
        .await
        .with_context(|| format!("--database {url}"))
}

pub async fn bind_listener(bind: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("--bind {bind}: cannot listen there"))
}

/// Stores and applies a rule file when it differs from the current one.
pub async fn apply_rules(app: &Arc<App>, path: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--rules: cannot read {}", path.display()))?;
    let current = app.store.current_rules().await?.map(|r| r.1);
    if current.as_deref() != Some(text.as_str()) {
        app.set_rules("areya serve --rules", &text)
            .await
            .with_context(|| format!("--rules {}", path.display()))?;
        app.audit(
            "areya serve",
            AuditAction::ChangeRules,
            Words::new("rules"),
            Words::new("from the file {path}").with("path", path.display().to_string()),
        )
        .await?;
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Purges records older than the retention period, hourly (the audit log is kept).
async fn purge_loop(app: Arc<App>, days: u32) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let cutoff = app.now() - i64::from(days) * 86_400_000;
        match app.store.purge_before(cutoff).await {
            Ok(p) => tracing::info!("retention purge: {p:?}"),
            Err(e) => tracing::warn!("retention purge: {e}"),
        }
    }
}

/// This server's name in the cluster's logs and command queue.
fn node_name(bind: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}:{}:{bind}", std::process::id())
}
