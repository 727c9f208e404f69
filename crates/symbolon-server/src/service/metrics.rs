//! Prometheus counters (text format at `GET /metrics`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = [(&'static str, &'static str); 1];

/// Outcomes of a refresh, one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// A new successor was issued.
    Rotated,
    /// A rotated token within the grace got the same successor.
    GraceReplay,
    /// A rotated token outside the grace: the session was revoked.
    ReuseDetected,
    /// The token or session expired.
    Expired,
    /// The session was revoked earlier (or the user disabled).
    Revoked,
    /// Garbage, a foreign token, or an unknown session.
    Invalid,
}

impl RefreshOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Rotated => "rotated",
            Self::GraceReplay => "grace_replay",
            Self::ReuseDetected => "reuse_detected",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Invalid => "invalid",
        }
    }
}

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    refresh: Family<Labels, Counter>,
    login: Family<Labels, Counter>,
    hashes_in_flight: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("symbolon");
        let refresh = Family::<Labels, Counter>::default();
        let login = Family::<Labels, Counter>::default();
        let hashes_in_flight = Gauge::default();
        registry.register(
            "refresh",
            "Refresh-token presentations by outcome",
            refresh.clone(),
        );
        registry.register("login", "Login attempts by outcome", login.clone());
        registry.register(
            "password_hashes_in_flight",
            "Argon2id computations running now",
            hashes_in_flight.clone(),
        );
        Self {
            registry,
            refresh,
            login,
            hashes_in_flight,
        }
    }
}

impl Metrics {
    /// Counts one refresh.
    pub fn refresh(&self, outcome: RefreshOutcome) {
        self.refresh
            .get_or_create(&[("outcome", outcome.label())])
            .inc();
    }

    /// Counts one login by outcome (`success`, `failure`, `throttled`, `disabled`).
    pub fn login(&self, outcome: &'static str) {
        self.login.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// The gauge of hashes in flight.
    pub fn hashes_in_flight(&self) -> &Gauge {
        &self.hashes_in_flight
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
