//! How many carts one client may create: a token bucket per client address
//! (`CART_CREATE_PER_MINUTE`, refilled continuously, holding at most `CART_CREATE_BURST`).
//! Only a write that would create a cart takes a token; reads and changes to an existing cart
//! take none. The client is the connection's peer (the shop has no trusted-proxy setting: behind
//! a proxy every client shares its address, so switch the limit off there and let the proxy
//! limit). IPv6 clients count by their /64, which one host usually holds whole.
//!
//! Memory stays bounded whatever the addresses: at most [`MAX_TRACKED`] buckets. When the table
//! is full, buckets that have refilled (as good as new) are dropped, at most once a second; if
//! it is still full, every new address shares one overflow bucket until room is made.
//! Per replica: a client spread over several replicas gets each one's allowance.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Client addresses tracked at most (a bucket is a few dozen bytes).
pub const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
struct Table {
    buckets: HashMap<IpAddr, Bucket>,
    overflow: Option<Bucket>,
    swept_at: Option<Instant>,
}

/// The per-address allowance of new carts.
#[derive(Debug)]
pub struct CartLimiter {
    /// Tokens per second; 0: no limit.
    rate: f64,
    burst: f64,
    table: Mutex<Table>,
}

/// The address a client is counted by: IPv4 (and IPv4-mapped IPv6) whole, IPv6 by its /64.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

impl CartLimiter {
    /// `per_minute` carts a minute per address, up to `burst` at once; `per_minute` 0 switches
    /// the limit off.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        CartLimiter {
            rate: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                overflow: None,
                swept_at: None,
            }),
        }
    }

    /// Takes a token for a new cart of `ip`'s client, or says how long until one is free.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let client = client_of(ip);
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if !table.buckets.contains_key(&client) && table.buckets.len() >= MAX_TRACKED {
            self.sweep(&mut table, now);
        }
        let fresh = Bucket {
            tokens: self.burst,
            at: now,
        };
        let bucket = if table.buckets.len() < MAX_TRACKED || table.buckets.contains_key(&client) {
            table.buckets.entry(client).or_insert(fresh)
        } else {
            table.overflow.get_or_insert(fresh)
        };
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }

    /// Drops the buckets that have refilled since their last use, at most once a second.
    fn sweep(&self, table: &mut Table, now: Instant) {
        if table
            .swept_at
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1))
        {
            return;
        }
        table.swept_at = Some(now);
        let (rate, burst) = (self.rate, self.burst);
        table.buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
        });
    }

    /// Addresses tracked now (for tests and the metrics).
    pub fn tracked(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .buckets
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = CartLimiter::new(60, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.admit(v4(1), t0).is_ok());
        }
        let wait = limiter.admit(v4(1), t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert!(limiter.admit(v4(2), t0).is_ok(), "another address");
        assert!(
            limiter
                .admit(v4(1), t0 + Duration::from_millis(500))
                .is_err()
        );
        assert!(limiter.admit(v4(1), t0 + Duration::from_secs(1)).is_ok());
        // Refills only up to the burst.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(limiter.admit(v4(1), later).is_ok());
        }
        assert!(limiter.admit(v4(1), later).is_err());
    }

    #[test]
    fn zero_per_minute_is_no_limit() {
        let limiter = CartLimiter::new(0, 1);
        let t0 = Instant::now();
        assert!((0..1000).all(|_| limiter.admit(v4(1), t0).is_ok()));
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn ipv6_hosts_count_by_their_64() {
        let limiter = CartLimiter::new(60, 1);
        let t0 = Instant::now();
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.admit(IpAddr::V6(a), t0).is_ok());
        assert!(limiter.admit(IpAddr::V6(b), t0).is_err(), "the same /64");
        assert!(limiter.admit(IpAddr::V6(c), t0).is_ok());
        let mapped: Ipv6Addr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(limiter.admit(IpAddr::V6(mapped), t0).is_ok());
        assert!(limiter.admit("10.0.0.1".parse().unwrap(), t0).is_err());
    }

    /// A flood of distinct addresses never grows the table past its bound, and while it is full
    /// of addresses still throttled, newcomers share one bucket instead of each getting a burst.
    #[test]
    fn a_flood_of_addresses_stays_bounded() {
        let limiter = CartLimiter::new(60, 2);
        let t0 = Instant::now();
        for n in 0..(MAX_TRACKED as u32 + 10_000) {
            let _ = limiter.admit(v4(n), t0);
        }
        assert_eq!(limiter.tracked(), MAX_TRACKED);
        let newcomers = (0..10u32)
            .filter(|n| limiter.admit(v4(u32::MAX - n), t0).is_ok())
            .count();
        assert_eq!(newcomers, 0, "the overflow bucket is spent");
        // Once the old buckets have refilled, they make room.
        let later = t0 + Duration::from_secs(10);
        assert!(limiter.admit(v4(u32::MAX - 100), later).is_ok());
        assert_eq!(limiter.tracked(), 1);
    }
}
