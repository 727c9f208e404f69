//! Time as the rest of symbolon sees it: whole Unix seconds from an injectable clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch. Every stored time and every JWT time claim uses it.
pub type UnixTime = i64;

/// A source of the current time. Injected everywhere so tests move time instead of sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in Unix seconds.
    fn now(&self) -> UnixTime;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to: for tests of expiry and grace without sleeping.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: UnixTime) -> Self {
        Self(std::sync::atomic::AtomicI64::new(start))
    }

    /// Moves the clock forward (or back, with a negative value).
    pub fn advance(&self, seconds: i64) {
        self.0
            .fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
