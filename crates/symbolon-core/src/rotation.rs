//! The refresh-rotation rules (`docs/API.md` §1), as a pure function of a session's state,
//! the presented generation and the time. The store carries out the decision with one
//! compare-and-swap; this module is the only place the rules are written.

use crate::clock::UnixTime;

/// Lifetimes that govern refresh tokens, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Idle lifetime: a refresh token expires this long after it was issued.
    pub refresh_ttl: i64,
    /// How long after a rotation the rotated token may be replayed for the same successor.
    pub reuse_grace: i64,
}

/// The part of a session row that rotation depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionClock {
    /// The current generation: the only one that may rotate.
    pub generation: u64,
    /// When the session started (the issue time of generation 0).
    pub created_at: UnixTime,
    /// When the current generation was issued (equal to `created_at` before any rotation).
    pub rotated_at: UnixTime,
    /// The absolute end of the session (`session_ttl` after login).
    pub absolute_end: UnixTime,
    /// Whether the session was revoked (logout, reuse, password change, user disabled).
    pub revoked: bool,
}

impl SessionClock {
    /// When the token of the current generation stops working.
    pub fn current_token_expiry(&self, policy: &RefreshPolicy) -> UnixTime {
        (self.rotated_at + policy.refresh_ttl).min(self.absolute_end)
    }
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The token is current: advance the session from `from` to `from + 1`.
    Rotate {
        /// The generation presented, which must still be current when the swap runs.
        from: u64,
    },
    /// The token was rotated moments ago: answer with the existing successor.
    GraceReplay {
        /// The generation of the successor to hand out again.
        successor: u64,
    },
    /// A rotated token outside the grace: revoke the whole session.
    Reuse,
    /// The token or the session has expired.
    Expired,
    /// The session was revoked earlier.
    Revoked,
    /// A generation the session never issued (possible only after a database restore).
    Unknown,
}

/// Decides what a refresh with a token of `presented` generation does at `now`.
pub fn decide(
    session: &SessionClock,
    presented: u64,
    now: UnixTime,
    policy: &RefreshPolicy,
) -> Decision {
    if session.revoked {
        return Decision::Revoked;
    }
    if now >= session.absolute_end {
        return Decision::Expired;
    }
    let current = session.generation;
    if presented == current {
        if now >= session.current_token_expiry(policy) {
            Decision::Expired
        } else {
            Decision::Rotate { from: current }
        }
    } else if presented > current {
        Decision::Unknown
    } else if presented + 1 == current && now - session.rotated_at <= policy.reuse_grace {
        // The successor (the current generation) has not been used, or the session
        // would have moved on; its expiry is still ahead since the grace is short.
        if now >= session.current_token_expiry(policy) {
            Decision::Expired
        } else {
            Decision::GraceReplay { successor: current }
        }
    } else {
        Decision::Reuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RefreshPolicy = RefreshPolicy {
        refresh_ttl: 100,
        reuse_grace: 10,
    };

    fn session(generation: u64, rotated_at: i64) -> SessionClock {
        SessionClock {
            generation,
            created_at: 0,
            rotated_at,
            absolute_end: 1000,
            revoked: false,
        }
    }

    #[test]
    fn the_current_token_rotates_until_it_expires() {
        assert_eq!(
            decide(&session(0, 0), 0, 99, &POLICY),
            Decision::Rotate { from: 0 }
        );
        assert_eq!(decide(&session(0, 0), 0, 100, &POLICY), Decision::Expired);
        assert_eq!(
            decide(&session(3, 50), 3, 149, &POLICY),
            Decision::Rotate { from: 3 }
        );
    }

    #[test]
    fn the_previous_token_replays_within_the_grace_only() {
        assert_eq!(
            decide(&session(4, 50), 3, 60, &POLICY),
            Decision::GraceReplay { successor: 4 }
        );
        assert_eq!(decide(&session(4, 50), 3, 61, &POLICY), Decision::Reuse);
        assert_eq!(decide(&session(4, 50), 2, 51, &POLICY), Decision::Reuse);
    }

    #[test]
    fn the_absolute_end_and_revocation_win() {
        let mut s = session(1, 995);
        assert_eq!(s.current_token_expiry(&POLICY), 1000);
        assert_eq!(decide(&s, 1, 1000, &POLICY), Decision::Expired);
        s.revoked = true;
        assert_eq!(decide(&s, 1, 996, &POLICY), Decision::Revoked);
        assert_eq!(decide(&session(1, 0), 2, 5, &POLICY), Decision::Unknown);
    }
}
