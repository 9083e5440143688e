//! A minimal HTTP/1.0 GET for the loopback endpoints tests and benchmarks read (the operator's
//! /metrics and /readyz), so they need no HTTP client crate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The body of `GET path` on `address`; an error unless the status is 200.
pub fn get(address: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) =
        response.split_once("\r\n\r\n").ok_or_else(|| std::io::Error::other("a malformed HTTP response"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(std::io::Error::other(format!("GET {path}: {status}")));
    }
    Ok(body.to_string())
}

/// The value of one Prometheus sample, e.g. `agents_operator_leader` or
/// `agents_operator_api_writes_total{kind="Deployment",verb="apply"}`; 0 when absent.
pub fn sample(metrics: &str, name: &str) -> f64 {
    metrics.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0.0)
}

/// The sum of every sample of a metric family (all label sets).
pub fn family_sum(metrics: &str, family: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.strip_prefix(family).is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' ')))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP x\nagents_operator_leader 1\nagents_operator_api_writes_total{kind=\"A\",verb=\"apply\"} 3\n\
                        agents_operator_api_writes_total{kind=\"B\",verb=\"status\"} 4\nagents_operator_api_writes_other 9\n";

    #[test]
    fn samples_and_families_are_read_exactly() {
        assert_eq!(sample(TEXT, "agents_operator_leader"), 1.0);
        assert_eq!(sample(TEXT, "agents_operator_api_writes_total{kind=\"B\",verb=\"status\"}"), 4.0);
        assert_eq!(sample(TEXT, "agents_operator_missing"), 0.0);
        assert_eq!(family_sum(TEXT, "agents_operator_api_writes_total"), 7.0);
    }
}
