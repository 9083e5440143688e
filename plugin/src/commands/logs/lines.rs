//! Log lines: their prefixes and timestamps, and the one writer they all go through.

use super::*;

/// `2025-01-02T03:04:05.123456789Z text` as the timestamp and the text (the whole line when it
/// does not start with a timestamp).
pub(super) fn split_timestamp(line: &str) -> (Option<&str>, &str) {
    match line.split_once(' ') {
        Some((stamp, text)) if stamp.parse::<Timestamp>().is_ok() => (Some(stamp), text),
        _ => match line.parse::<Timestamp>() {
            // A timestamped empty line.
            Ok(_) => (Some(line), ""),
            Err(_) => (None, line),
        },
    }
}

pub(super) fn trim_end_of_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Prints log lines; the only writer of stdout, so lines are never mixed.
pub(super) struct Printer {
    pub(super) out: BufWriter<Stdout>,
}

impl Printer {
    pub(super) fn stdout() -> Self {
        Printer { out: BufWriter::new(std::io::stdout()) }
    }

    pub(super) fn line(&mut self, prefix: &str, timestamp: Option<&str>, text: &str) -> std::io::Result<()> {
        self.out.write_all(format_line(prefix, timestamp, text).as_bytes())
    }

    pub(super) fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// `[pod] text`, or `[pod] timestamp text`, with its newline.
pub(super) fn format_line(prefix: &str, timestamp: Option<&str>, text: &str) -> String {
    match timestamp {
        Some(timestamp) => format!("{prefix} {timestamp} {text}\n"),
        None => format!("{prefix} {text}\n"),
    }
}

/// One container of one pod, and how its lines are prefixed.
pub(super) struct Source {
    pub(super) pod: String,
    pub(super) container: String,
    pub(super) prefix: String,
}

impl Source {
    pub(super) fn new(pod: &str, container: &str, show_container: bool, colour: bool) -> Self {
        let label = label(pod, container, show_container);
        Source { pod: pod.to_string(), container: container.to_string(), prefix: style::keyed(&label, pod, colour) }
    }
}

/// `[pod]`, or `[pod/container]` when the container is named.
pub(super) fn label(pod: &str, container: &str, show_container: bool) -> String {
    if show_container { format!("[{pod}/{container}]") } else { format!("[{pod}]") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_prefixed_with_their_pod_and_if_asked_their_container() {
        assert_eq!(label("research-1", "agent", false), "[research-1]");
        assert_eq!(label("research-1", "agent", true), "[research-1/agent]");
        assert_eq!(format_line("[research-1]", None, "hello"), "[research-1] hello\n");
        assert_eq!(
            format_line("[research-1]", Some("2025-01-02T03:04:05.5Z"), "hello"),
            "[research-1] 2025-01-02T03:04:05.5Z hello\n"
        );
        assert_eq!(Source::new("research-1", "agent", false, false).prefix, "[research-1]");
    }

    #[test]
    fn timestamps_are_split_from_the_text() {
        assert_eq!(
            split_timestamp("2025-01-02T03:04:05.123456789Z agent started"),
            (Some("2025-01-02T03:04:05.123456789Z"), "agent started")
        );
        assert_eq!(split_timestamp("2025-01-02T03:04:05Z"), (Some("2025-01-02T03:04:05Z"), ""));
        assert_eq!(split_timestamp("no stamp here"), (None, "no stamp here"));
        assert_eq!(split_timestamp(""), (None, ""));
        assert_eq!(trim_end_of_line(b"line\r\n"), b"line");
        assert_eq!(trim_end_of_line(b"partial"), b"partial");
    }
}
