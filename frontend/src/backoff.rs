//! When to try the live connection again: 0.5 s doubling up to 10 s, with jitter so that many
//! tabs do not all knock at the same moment after a server restart.

use std::time::Duration;

pub const FIRST: Duration = Duration::from_millis(500);
pub const MAX: Duration = Duration::from_secs(10);

/// The wait before reconnect attempt number `attempt` (0 for the first retry). `unit` is a
/// random number in `[0, 1)`; it spreads the wait over ±20 % of the nominal delay, never past
/// [`MAX`].
pub fn delay(attempt: u32, unit: f64) -> Duration {
    let nominal = FIRST
        .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(MAX)
        .min(MAX);
    let factor = 0.8 + 0.4 * unit.clamp(0.0, 1.0);
    nominal.mul_f64(factor).min(MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_half_a_second_to_ten() {
        let mid: Vec<u64> = (0..8).map(|a| delay(a, 0.5).as_millis() as u64).collect();
        assert_eq!(mid, [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
        assert_eq!(delay(1000, 0.5), MAX);
        assert_eq!(delay(u32::MAX, 0.99), MAX);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        for attempt in 0..10 {
            for unit in [0.0, 0.25, 0.5, 0.999, 1.0, -3.0, 7.0] {
                let d = delay(attempt, unit);
                let nominal = delay(attempt, 0.5);
                assert!(d >= nominal.mul_f64(0.79), "{attempt} {unit} {d:?}");
                assert!(d <= MAX);
            }
        }
        assert_eq!(delay(0, 0.0), Duration::from_millis(400));
        assert_eq!(delay(0, 1.0), Duration::from_millis(600));
    }
}
