//! Ports on 127.0.0.1: finding free ones, and waiting until one is served.

use std::time::{Duration, Instant};

/// Nothing accepted connections on an address in time.
#[derive(Debug, thiserror::Error)]
#[error("nothing accepted connections on {address} within {seconds} s")]
pub struct NotListening {
    pub address: String,
    pub seconds: u64,
}

/// `count` consecutive free ports on 127.0.0.1, below the kernel's ephemeral
/// range: a port from that range, left free by a process that was stopped,
/// can be taken meanwhile as the source port of some outgoing connection, and
/// the process could not listen on it again when restarted.
pub fn free_ports(count: u16) -> std::io::Result<u16> {
    let ephemeral_start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_start.saturating_sub(count).max(10_001));
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id();
    'search: for _ in 0..1000 {
        // xorshift: a different start each try, and each process.
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let base = low + (seed % u32::from(high - low)) as u16;
        for port in base..base + count {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue 'search;
            }
        }
        return Ok(base);
    }
    Err(std::io::Error::other(format!(
        "no {count} consecutive free ports"
    )))
}

/// One free port on 127.0.0.1 (see [`free_ports`]).
pub fn free_port() -> std::io::Result<u16> {
    free_ports(1)
}

/// Waits until something accepts connections on `address`.
pub fn wait_listening(address: &str, timeout: Duration) -> Result<(), NotListening> {
    let start = Instant::now();
    while std::net::TcpStream::connect(address).is_err() {
        if start.elapsed() > timeout {
            return Err(NotListening {
                address: address.to_string(),
                seconds: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
