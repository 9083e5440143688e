//! The flags every command shares (kubectl's connection flags) and the parsers of the values
//! flags take, as kubectl reads them.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// kubectl's connection flags. kubectl refuses flags before a plugin's name, so they go after
/// the command: `kubectl agents get -n team-a`.
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's, then "default").
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE", value_parser = parse_namespace)]
    pub namespace: Option<String>,
    /// How long to wait for one request to the API server, e.g. 30s or 1m (0 waits forever).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,
    /// Debug logs on stderr (-vv: the Kubernetes client's too).
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// A namespace name: a DNS label, as the API server requires (checked here so a typo is named as
/// one, not reported as a missing object).
pub fn parse_namespace(text: &str) -> Result<String, String> {
    let label = !text.is_empty()
        && text.len() <= 63
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if label {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a namespace name: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
        ))
    }
}

/// The longest duration a flag takes: Go's, so every value kubectl accepts is accepted here.
pub const LONGEST_DURATION: Duration = Duration::from_secs(2_562_047 * 3600);

/// A duration as kubectl's flags take it: `30s`, `1m30s`, `2h`, `500ms`, `0`, or a bare number of
/// seconds; at most [`LONGEST_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let example = "such as 30s, 1m30s or 2h";
    if text.is_empty() {
        return Err(format!("a duration is needed, {example}"));
    }
    if text.starts_with('-') {
        return Err(format!("{text:?} is negative: give a duration {example}"));
    }
    if text.chars().all(|c| c.is_ascii_digit() || c == '.') {
        let seconds = text.parse().map_err(|_| format!("{text:?} is not a duration {example}"))?;
        return bounded(text, seconds);
    }
    let mut seconds = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().map_err(|_| format!("{text:?} is not a duration {example}"))?;
        let unit_end = rest[digits..].find(|c: char| c.is_ascii_digit() || c == '.').map_or(rest.len(), |i| digits + i);
        let scale = match &rest[digits..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => return Err(format!("{text:?} has an unknown unit {unit:?}: use ms, s, m or h")),
        };
        seconds += value * scale;
        rest = &rest[unit_end..];
    }
    bounded(text, seconds)
}

fn bounded(text: &str, seconds: f64) -> Result<Duration, String> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(duration) if duration <= LONGEST_DURATION => Ok(duration),
        _ => Err(format!("{text:?} is too long: the longest duration is {}h", LONGEST_DURATION.as_secs() / 3600)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl_flags() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert!(parse_duration("soon").unwrap_err().contains("not a duration"));
        assert!(parse_duration("3d").unwrap_err().contains("unknown unit"));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1m0.5s"), Ok(Duration::from_millis(60_500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2562047h"), Ok(LONGEST_DURATION));
    }

    #[test]
    fn namespaces_are_dns_labels() {
        assert_eq!(parse_namespace("team-a1"), Ok("team-a1".into()));
        for bad in ["Team", "team_a", "-a", "a-", "", "a.b", &"a".repeat(64)] {
            assert!(parse_namespace(bad).unwrap_err().contains("is not a namespace name"), "{bad}");
        }
    }

    #[test]
    fn durations_out_of_range_are_refused_not_panicked_on() {
        for text in ["2562048h", "18446744073709551615s", "9999999999999999h", "1e400", "inf", "NaN"] {
            let error = parse_duration(text).unwrap_err();
            assert!(
                ["too long", "not a duration", "unknown unit"].iter().any(|m| error.contains(m)),
                "{text}: {error}"
            );
        }
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(parse_duration("").unwrap_err().contains("a duration is needed"));
        assert!(parse_duration("5s3").unwrap_err().contains("unknown unit \"\""));
    }
}
