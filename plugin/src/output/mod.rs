//! kubectl's output: `-o table|wide|json|yaml|name`, and for commands that print objects also
//! `-o jsonpath=…`, `-o custom-columns=…`, `--no-headers` and `--sort-by` ([`PrintFlags`]); the
//! pieces of kubectl-style tables; ages.

pub mod custom_columns;
pub mod jsonpath;
pub mod printer;
pub mod sort;

use std::io::Write;

use clap::ValueEnum;
use comfy_table::{Table, presets};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

pub use printer::{PrintFlags, Printer};

/// `-o` of the commands that print one thing rather than objects to script with (`create`,
/// `version`, `workflow status`); `get` and `build list` take [`PrintFlags`].
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Wide,
    Json,
    Yaml,
    Name,
}

/// A borderless table like kubectl's: upper-case headers, three spaces between columns.
pub fn table(header: Vec<&str>) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    table.set_header(header);
    for column in table.column_iter_mut() {
        column.set_padding((0, 3));
    }
    table
}

/// Prints a table on stdout (see [`write_table`]).
pub fn print_table(table: &Table, with_header: bool) -> std::io::Result<()> {
    write_table(&mut std::io::stdout().lock(), table, with_header)
}

/// Writes a table without the trailing spaces comfy-table pads the last column with.
pub fn write_table(out: &mut dyn Write, table: &Table, with_header: bool) -> std::io::Result<()> {
    for (i, line) in table.lines().enumerate() {
        if i == 0 && !with_header {
            continue;
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The width of each column of a printed table (without the padding).
pub fn column_widths(table: &Table) -> Vec<usize> {
    table.column_max_content_widths().iter().map(|w| usize::from(*w)).collect()
}

/// One row laid out on the columns of an earlier table (a wider cell pushes the rest along).
pub fn aligned(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        line.push_str(cell);
        if i + 1 < cells.len() {
            let width = widths.get(i).copied().unwrap_or(0);
            let visible = visible_len(cell);
            line.push_str(&" ".repeat(width.saturating_sub(visible) + 3));
        }
    }
    line
}

/// Characters a terminal shows, ignoring colour escape sequences.
fn visible_len(text: &str) -> usize {
    let mut count = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => count += 1,
        }
    }
    count
}

/// A value as YAML, else as indented JSON, on stdout.
pub fn print_value(value: &serde_json::Value, format: Format) -> anyhow::Result<()> {
    write_value(&mut std::io::stdout().lock(), value, format)
}

pub fn write_value(out: &mut dyn Write, value: &serde_json::Value, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Yaml => write!(out, "{}", serde_norway::to_string(value)?)?,
        _ => writeln!(out, "{}", serde_json::to_string_pretty(value)?)?,
    }
    Ok(())
}

/// How rows are printed: `-o wide`, colours, and the clock ages are read against (the command's
/// edge reads it; tests fix it).
#[derive(Debug, Clone, Copy)]
pub struct RowOptions {
    pub wide: bool,
    pub colour: bool,
    pub now: Timestamp,
}

/// kubectl's age (apimachinery's `HumanDuration`, which the API server also uses for a Table's
/// date cells) of `created` at `now`: `45s`, `8m21s`, `12m`, `5h30m`, `20h`, `3d4h`, `30d`, `2y10d`.
pub fn age(created: Option<&Time>, now: Timestamp) -> String {
    let Some(created) = created else { return "<unknown>".into() };
    human_duration(now.duration_since(created.0).as_secs())
}

fn human_duration(seconds: i64) -> String {
    // A clock a second ahead of the API server's is "now", as in kubectl.
    if seconds < -1 {
        return "<invalid>".into();
    }
    let seconds = seconds.max(0);
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let (days, years) = (hours / 24, hours / (24 * 365));
    let with = |major: String, minor: i64, unit: &str| if minor == 0 { major } else { format!("{major}{minor}{unit}") };
    match seconds {
        s if s < 120 => format!("{s}s"),
        _ if minutes < 10 => with(format!("{minutes}m"), seconds % 60, "s"),
        _ if minutes < 3 * 60 => format!("{minutes}m"),
        _ if hours < 8 => with(format!("{hours}h"), minutes % 60, "m"),
        _ if hours < 48 => format!("{hours}h"),
        _ if hours < 8 * 24 => with(format!("{days}d"), hours % 24, "h"),
        _ if hours < 2 * 365 * 24 => format!("{days}d"),
        _ if hours < 8 * 365 * 24 => with(format!("{years}y"), days % 365, "d"),
        _ => format!("{years}y"),
    }
}

/// `<none>` for what is unset, as kubectl prints it.
pub fn or_none(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).filter(|v| !v.is_empty()).unwrap_or_else(|| "<none>".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::SignedDuration;

    #[test]
    fn ages_read_like_kubectl() {
        let now: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
        let ago = |seconds: i64| Time(now - SignedDuration::from_secs(seconds));
        assert_eq!(age(Some(&ago(5)), now), "5s");
        assert_eq!(age(Some(&ago(600)), now), "10m");
        assert_eq!(age(Some(&ago(5 * 3600)), now), "5h");
        assert_eq!(age(Some(&ago(3 * 86400)), now), "3d");
        // Cases from apimachinery's duration_test.go.
        for (seconds, text) in [
            (119, "119s"),
            (120, "2m"),
            (501, "8m21s"),
            (10 * 60 + 1, "10m"),
            (3 * 3600 + 30 * 60, "3h30m"),
            (9 * 3600, "9h"),
            (49 * 3600, "2d1h"),
            (8 * 86400 + 3600, "8d"),
            (2 * 365 * 86400 + 10 * 86400, "2y10d"),
            (9 * 365 * 86400, "9y"),
            (-1, "0s"),
            (-5, "<invalid>"),
        ] {
            assert_eq!(human_duration(seconds), text, "{seconds} s");
        }
        assert_eq!(age(None, now), "<unknown>");
    }

    #[test]
    fn watched_rows_keep_the_listing_columns() {
        let mut t = table(vec!["NAME", "PHASE", "READY"]);
        t.add_row(vec!["research", "Ready", "1/1"]);
        let widths = column_widths(&t);
        assert_eq!(widths, [8, 5, 5]);
        let row = aligned(&["research".into(), "\u{1b}[33mWaiting\u{1b}[39m".into(), "1/2".into()], &widths);
        assert_eq!(row, "research   \u{1b}[33mWaiting\u{1b}[39m   1/2");
        assert_eq!(aligned(&["a".into(), "b".into()], &widths), "a          b");
    }

    #[test]
    fn tables_have_no_borders_and_no_trailing_spaces() {
        let mut t = table(vec!["NAME", "PHASE"]);
        t.add_row(vec!["research", "Ready"]);
        let lines: Vec<String> = t.lines().map(|l| l.trim_end().to_string()).collect();
        assert_eq!(lines, ["NAME       PHASE", "research   Ready"]);
    }
}
