//! When an access token needs refreshing, decided on monotonic clocks only.
//!
//! The server's `expires_in` is counted from the moment its answer arrived, on
//! [`std::time::Instant`]. The wall clock and the token's `exp` claim are never read, so
//! a local clock that is hours ahead or behind changes nothing.
//!
//! Across processes (a token file read by the next CLI invocation) an `Instant` cannot be
//! stored, so the file carries a [`BootStamp`]: the boot id and the time since boot
//! (`CLOCK_BOOTTIME` through `/proc/uptime`, which keeps counting during suspend). A
//! stamp from another boot, or no stamp at all (other systems), means "age unknown": the
//! token is treated as expired and refreshed before use.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The longest access-token lifetime the client believes: a day.
pub const LONGEST: Duration = Duration::from_secs(86_400);

/// The moment an access token stops being usable, on this process's monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    deadline: Instant,
}

impl Expiry {
    /// A token that the server said lives `expires_in`, counted from `received_at`
    /// (the instant its response arrived). Lifetimes beyond [`LONGEST`] count as
    /// `LONGEST`: no server value can overflow the clock, and the token is refreshed a
    /// little early at worst.
    pub fn new(received_at: Instant, expires_in: Duration) -> Self {
        Expiry {
            deadline: received_at + expires_in.min(LONGEST),
        }
    }

    /// A token whose age is unknown: due for a refresh at once.
    pub fn unknown(now: Instant) -> Self {
        Expiry { deadline: now }
    }

    /// True when the token must be refreshed before use at `now`: it expires within
    /// `margin`.
    pub fn needs_refresh(&self, now: Instant, margin: Duration) -> bool {
        now.checked_add(margin).is_none_or(|t| t >= self.deadline)
    }

    /// The time left at `now` (zero once expired).
    pub fn remaining(&self, now: Instant) -> Duration {
        self.deadline.saturating_duration_since(now)
    }

    /// The expiry of a stored token that was `expires_in` long when `obtained`, seen at
    /// `now` / `now_stamp`. Unknown age (no stamp, another boot, a clock that went
    /// backwards) gives [`Expiry::unknown`].
    pub fn from_stamps(
        expires_in: Duration,
        obtained: Option<&BootStamp>,
        now: Instant,
        now_stamp: Option<&BootStamp>,
    ) -> Self {
        match (obtained, now_stamp) {
            (Some(then), Some(current))
                if then.boot_id == current.boot_id
                    && current.since_boot_ms >= then.since_boot_ms =>
            {
                let age = Duration::from_millis(current.since_boot_ms - then.since_boot_ms);
                Expiry::new(now, expires_in.saturating_sub(age))
            }
            _ => Expiry::unknown(now),
        }
    }
}

/// A point on the machine's boot-time clock: comparable across processes of one boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootStamp {
    /// `/proc/sys/kernel/random/boot_id`: changes at every boot.
    pub boot_id: String,
    /// Milliseconds since boot, including time suspended.
    pub since_boot_ms: u64,
}

impl BootStamp {
    /// Now, where the system offers such a clock (Linux and Android); `None` elsewhere.
    pub fn now() -> Option<BootStamp> {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
        let secs: f64 = uptime.split_whitespace().next()?.parse().ok()?;
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        Some(BootStamp {
            boot_id: boot_id.trim().to_owned(),
            since_boot_ms: (secs * 1000.0) as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARGIN: Duration = Duration::from_secs(60);

    #[test]
    fn refresh_is_due_margin_before_expires_in() {
        let t0 = Instant::now();
        let e = Expiry::new(t0, Duration::from_secs(900));
        assert!(!e.needs_refresh(t0, MARGIN));
        assert!(!e.needs_refresh(t0 + Duration::from_secs(839), MARGIN));
        assert!(e.needs_refresh(t0 + Duration::from_secs(840), MARGIN));
        assert!(e.needs_refresh(t0 + Duration::from_secs(10_000), MARGIN));
        assert_eq!(
            e.remaining(t0 + Duration::from_secs(100)),
            Duration::from_secs(800)
        );
    }

    #[test]
    fn an_absurd_lifetime_is_a_day() {
        let t0 = Instant::now();
        let e = Expiry::new(t0, Duration::MAX);
        assert_eq!(e.remaining(t0), LONGEST);
        let e = Expiry::from_stamps(Duration::MAX, None, t0, None);
        assert!(e.needs_refresh(t0, Duration::ZERO), "unknown age");
    }

    #[test]
    fn a_margin_as_long_as_the_lifetime_refreshes_at_once() {
        let t0 = Instant::now();
        assert!(Expiry::new(t0, Duration::from_secs(3)).needs_refresh(t0, Duration::from_secs(3)));
    }

    /// The decision takes only monotonic instants: there is no wall-clock input, so a
    /// system clock hours ahead or behind cannot change it. The token's own `exp` is
    /// never parsed either.
    #[test]
    fn wall_clock_skew_cannot_matter() {
        let received = Instant::now();
        let e = Expiry::new(received, Duration::from_secs(900));
        // Whatever the wall clock says, 10 monotonic seconds later the token is fresh
        // and 850 seconds later it is due.
        assert!(!e.needs_refresh(received + Duration::from_secs(10), MARGIN));
        assert!(e.needs_refresh(received + Duration::from_secs(850), MARGIN));
    }

    #[test]
    fn stored_tokens_age_on_the_boot_clock() {
        let now = Instant::now();
        let then = BootStamp {
            boot_id: "b1".into(),
            since_boot_ms: 1_000_000,
        };
        let later = BootStamp {
            boot_id: "b1".into(),
            since_boot_ms: 1_000_000 + 300_000,
        };
        let e = Expiry::from_stamps(Duration::from_secs(900), Some(&then), now, Some(&later));
        assert_eq!(e.remaining(now), Duration::from_secs(600));

        let other_boot = BootStamp {
            boot_id: "b2".into(),
            since_boot_ms: 5,
        };
        assert!(Expiry::from_stamps(
            Duration::from_secs(900),
            Some(&then),
            now,
            Some(&other_boot)
        )
        .needs_refresh(now, Duration::ZERO));
        assert!(
            Expiry::from_stamps(Duration::from_secs(900), None, now, Some(&later))
                .needs_refresh(now, Duration::ZERO)
        );
        let backwards = BootStamp {
            boot_id: "b1".into(),
            since_boot_ms: 10,
        };
        assert!(
            Expiry::from_stamps(Duration::from_secs(900), Some(&then), now, Some(&backwards))
                .needs_refresh(now, Duration::ZERO)
        );
    }

    #[test]
    fn boot_stamp_reads_on_linux() {
        if cfg!(target_os = "linux") {
            let a = BootStamp::now().expect("boot stamp");
            let b = BootStamp::now().expect("boot stamp");
            assert_eq!(a.boot_id, b.boot_id);
            assert!(b.since_boot_ms >= a.since_boot_ms);
        }
    }
}
