//! Time as the rest of symbolon sees it: whole Unix seconds from an injectable clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch. Every stored time and every JWT time claim uses it.
pub type UnixTime = i64;

/// A source of the current time. Injected everywhere so tests move time instead of sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in Unix seconds.
    fn now(&self) -> UnixTime;

    /// The current time in Unix milliseconds (a whole second for clocks that know no
    /// better).
    fn now_millis(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
}

/// A clock that reads another and adds an offset. The server sets the offset to the
/// database's clock minus this machine's, so every instance of a fleet on one database
/// reads the same time (to within a round trip), whatever its machine's clock says.
#[derive(Debug)]
pub struct OffsetClock {
    base: std::sync::Arc<dyn Clock>,
    offset_ms: std::sync::atomic::AtomicI64,
}

impl OffsetClock {
    /// `base` with no offset yet.
    pub fn new(base: std::sync::Arc<dyn Clock>) -> Self {
        Self {
            base,
            offset_ms: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// The base clock's time, milliseconds.
    pub fn base_millis(&self) -> i64 {
        self.base.now_millis()
    }

    /// Sets the offset added to the base clock, milliseconds.
    pub fn set_offset_millis(&self, offset: i64) {
        self.offset_ms
            .store(offset, std::sync::atomic::Ordering::SeqCst);
    }

    /// The offset added to the base clock, milliseconds.
    pub fn offset_millis(&self) -> i64 {
        self.offset_ms.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> UnixTime {
        self.now_millis().div_euclid(1000)
    }

    fn now_millis(&self) -> i64 {
        self.base_millis().saturating_add(self.offset_millis())
    }
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

    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn an_offset_clock_adds_its_offset_to_the_base() {
        let base = Arc::new(ManualClock::new(1_000));
        let clock = OffsetClock::new(base.clone());
        assert_eq!(clock.now(), 1_000);
        clock.set_offset_millis(2_500);
        assert_eq!((clock.now(), clock.now_millis()), (1_002, 1_002_500));
        clock.set_offset_millis(-1);
        assert_eq!(clock.now(), 999, "rounds down, also below a whole second");
        base.advance(10);
        assert_eq!(clock.now(), 1_009);
    }
}
