//! The brute-force back-off: how long a key (an account, an IP) is blocked after its
//! n-th failure in a row.

/// Seconds to block after `failures` consecutive failures when `allowed` are free:
/// nothing up to `allowed`, then 1 s, 2 s, 4 s, ... doubling up to `max`.
pub fn backoff(failures: u64, allowed: u64, max: i64) -> i64 {
    if failures <= allowed {
        return 0;
    }
    let excess = (failures - allowed - 1).min(32) as u32;
    2i64.saturating_pow(excess).min(max)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_after_the_free_attempts_and_is_capped() {
        let seq: Vec<i64> = (1..=9).map(|f| backoff(f, 5, 900)).collect();
        assert_eq!(seq, [0, 0, 0, 0, 0, 1, 2, 4, 8]);
        assert_eq!(backoff(1000, 5, 900), 900);
    }
}
