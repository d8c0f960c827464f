//! `/metrics`: the server's counters and gauges in the Prometheus text format, kept and
//! written by the `prometheus` crate. Counters count as things happen; gauges are read when
//! Prometheus scrapes.

use prometheus::{Encoder, IntCounter, IntGauge, Registry, TextEncoder};

/// Every metric the server reports.
pub struct Metrics {
    registry: Registry,
    pub ingested: IntCounter,
    pub duplicates: IntCounter,
    pub refused_consent: IntCounter,
    pub alerts_raised: IntCounter,
    pub store_errors: IntCounter,
    /// Passwords checked with argon2 (every login answer costs one, whoever asks).
    pub password_checks: IntCounter,
    /// Webhook posts the gateway took, posts to be tried again, messages given up on.
    pub webhook_delivered: IntCounter,
    pub webhook_retried: IntCounter,
    pub webhook_dead: IntCounter,
    store_reopens: IntCounter,
    alerts_open: IntGauge,
    alerts_escalated: IntGauge,
    store_writable: IntGauge,
    live_subscribers: IntGauge,
    engine_leader: IntGauge,
}

/// What a scrape reads from the server at that moment.
pub struct Now {
    pub store_reopens: u64,
    pub alerts_open: usize,
    pub alerts_escalated: usize,
    pub store_writable: bool,
    pub live_subscribers: usize,
    pub engine_leader: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        // The names below are fixed and valid, each registered once: neither can fail.
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("a valid metric name");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("a valid metric name");
            registry
                .register(Box::new(g.clone()))
                .expect("registered once");
            g
        };
        Metrics {
            ingested: counter(
                "areya_observations_ingested_total",
                "Observations processed.",
            ),
            duplicates: counter(
                "areya_observations_duplicate_total",
                "Retried observations already stored.",
            ),
            refused_consent: counter(
                "areya_observations_refused_total",
                "Observations refused for lack of consent (never stored).",
            ),
            alerts_raised: counter("areya_alerts_raised_total", "Alerts raised."),
            store_errors: counter(
                "areya_store_errors_total",
                "Failed store transactions and health-check writes.",
            ),
            password_checks: counter(
                "areya_password_checks_total",
                "Passwords checked with argon2 (logins and password changes).",
            ),
            webhook_delivered: counter(
                "areya_webhook_delivered_total",
                "Messages the messaging gateway accepted (2xx).",
            ),
            webhook_retried: counter(
                "areya_webhook_retries_total",
                "Webhook posts that failed and will be tried again.",
            ),
            webhook_dead: counter(
                "areya_webhook_dead_letters_total",
                "Messages given up on after the last try (dead letters).",
            ),
            store_reopens: counter(
                "areya_store_reopens_total",
                "Times the store replaced its connections after an I/O failure.",
            ),
            alerts_open: gauge("areya_alerts_open", "Alerts open now."),
            alerts_escalated: gauge(
                "areya_alerts_escalated_unacknowledged",
                "Escalated alerts nobody acknowledged.",
            ),
            store_writable: gauge(
                "areya_store_writable",
                "1 if the last health check could write to the store.",
            ),
            live_subscribers: gauge("areya_live_subscribers", "Dashboards connected."),
            engine_leader: gauge(
                "areya_engine_leader",
                "1 if this server runs the ward engine (alone or as the cluster's leader).",
            ),
            registry,
        }
    }

    /// The text Prometheus scrapes, with `now`'s readings, and its content type.
    pub fn render(&self, now: Now) -> (String, String) {
        let seen = self.store_reopens.get();
        if now.store_reopens > seen {
            self.store_reopens.inc_by(now.store_reopens - seen);
        }
        self.alerts_open.set(now.alerts_open as i64);
        self.alerts_escalated.set(now.alerts_escalated as i64);
        self.store_writable.set(i64::from(now.store_writable));
        self.live_subscribers.set(now.live_subscribers as i64);
        self.engine_leader.set(i64::from(now.engine_leader));
        let encoder = TextEncoder::new();
        let mut out = Vec::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut out) {
            tracing::error!("writing /metrics: {e}");
        }
        (
            String::from_utf8_lossy(&out).into_owned(),
            encoder.format_type().to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_written_with_its_type_and_value() {
        let m = Metrics::new();
        m.ingested.inc_by(20);
        m.store_errors.inc();
        let now = |reopens| Now {
            store_reopens: reopens,
            alerts_open: 3,
            alerts_escalated: 1,
            store_writable: true,
            live_subscribers: 2,
            engine_leader: false,
        };
        let (text, kind) = m.render(now(4));
        assert_eq!(kind, "text/plain; version=0.0.4");
        for line in [
            "# TYPE areya_observations_ingested_total counter",
            "areya_observations_ingested_total 20",
            "areya_store_errors_total 1",
            "areya_password_checks_total 0",
            "# TYPE areya_webhook_dead_letters_total counter",
            "areya_webhook_delivered_total 0",
            "areya_webhook_retries_total 0",
            "areya_store_reopens_total 4",
            "# TYPE areya_alerts_open gauge",
            "areya_alerts_open 3",
            "areya_alerts_escalated_unacknowledged 1",
            "areya_store_writable 1",
            "areya_live_subscribers 2",
            "areya_engine_leader 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing in:\n{text}"
            );
        }
        assert_eq!(text.matches("# HELP ").count(), 15, "{text}");
        // The store's own count is followed, never counted twice.
        let (text, _) = m.render(now(4));
        assert!(text.contains("areya_store_reopens_total 4\n"), "{text}");
    }
}
