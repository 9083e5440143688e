//! `-o table|wide|json|yaml|name`, and the pieces of kubectl-style tables.

use std::io::Write;

use clap::ValueEnum;
use comfy_table::{Table, presets};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Serialize;

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

/// Prints a table without the trailing spaces comfy-table pads the last column with.
pub fn print_table(table: &Table, with_header: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
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

/// Objects as JSON or YAML: one object as itself, several as a `v1` `List`, like kubectl.
pub fn print_objects<T: Serialize>(objects: &[T], single: bool, format: Format) -> anyhow::Result<()> {
    let value = if single && objects.len() == 1 {
        serde_json::to_value(&objects[0])?
    } else {
        serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": objects})
    };
    print_value(&value, format)
}

pub fn print_value(value: &serde_json::Value, format: Format) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Yaml => write!(out, "{}", serde_norway::to_string(value)?)?,
        _ => writeln!(out, "{}", serde_json::to_string_pretty(value)?)?,
    }
    Ok(())
}

/// kubectl's age: `45s`, `12m`, `5h`, `3d`, `2y`.
pub fn age(created: Option<&Time>) -> String {
    let Some(created) = created else { return "<unknown>".into() };
    let seconds = k8s_openapi::jiff::Timestamp::now().duration_since(created.0).as_secs().max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s if s < 2 * 365 * 86400 => format!("{}d", s / 86400),
        s => format!("{}y", s / (365 * 86400)),
    }
}

/// `<none>` for what is unset, as kubectl prints it.
pub fn or_none(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).filter(|v| !v.is_empty()).unwrap_or_else(|| "<none>".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::{SignedDuration, Timestamp};

    fn ago(seconds: i64) -> Time {
        Time(Timestamp::now() - SignedDuration::from_secs(seconds))
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(Some(&ago(5))), "5s");
        assert_eq!(age(Some(&ago(600))), "10m");
        assert_eq!(age(Some(&ago(5 * 3600))), "5h");
        assert_eq!(age(Some(&ago(3 * 86400))), "3d");
        assert_eq!(age(None), "<unknown>");
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
