//! Whether a cron schedule can run, and when it fires next (for `status.nextScheduledTime`): the
//! five standard fields (`*`, lists, ranges, steps, month and day names, 7 = Sunday) and the
//! `@hourly`-style macros, with cron's rule that a restricted day-of-month and day-of-week match
//! either: what Argo's cron library (robfig/cron, standard fields and descriptors) takes.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// One parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The names of the five fields, in order.
const FIELDS: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];

impl Cron {
    /// The schedule, or what is wrong with it, in a sentence.
    pub fn parse(expression: &str) -> Result<Cron, String> {
        let expanded = match expression.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else {
            return Err(format!(
                "{expression:?} has {} fields; a cron expression has five ({}), such as '0 */6 * * *'",
                fields.len(),
                FIELDS.join(" ")
            ));
        };
        // In the order they are written, so the first wrong field is the one named.
        let minutes = field(minute, FIELDS[0], 0, 59, &[], 0)?;
        let hours = field(hour, FIELDS[1], 0, 23, &[], 0)?;
        let days = field(day, FIELDS[2], 1, 31, &[], 0)?;
        let months = field(month, FIELDS[3], 1, 12, &MONTHS, 1)?;
        let mut weekdays = field(weekday, FIELDS[4], 0, 7, &WEEKDAYS, 0)?;
        if weekdays[7] {
            weekdays[0] = true;
        }
        weekdays.truncate(7);
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted: !day.starts_with('*') && *day != "?",
            weekdays_restricted: !weekday.starts_with('*') && *weekday != "?",
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        let day = self.days[date.day() as usize];
        let weekday = self.weekdays[date.weekday().to_sunday_zero_offset() as usize];
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        }
    }

    /// The first time after `after` (strictly) at which the schedule fires, in `zone`.
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let start = zone.to_datetime(after).round(jiff::Unit::Minute).ok()?;
        let mut t = if zone.to_timestamp(start).ok()? <= after { start.checked_add(1.minute()).ok()? } else { start };
        // At most ~4 years of days (Feb 29), each skipped in one step.
        for _ in 0..200_000 {
            if !self.months[t.month() as usize] {
                let first = Date::new(t.year(), t.month(), 1).ok()?.checked_add(1.month()).ok()?;
                t = first.to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            if !self.day_matches(t.date()) {
                t = t.date().tomorrow().ok()?.to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            if !self.hours[t.hour() as usize] {
                t = DateTime::new(t.year(), t.month(), t.day(), t.hour(), 0, 0, 0).ok()?.checked_add(1.hour()).ok()?;
                continue;
            }
            if !self.minutes[t.minute() as usize] {
                t = t.checked_add(1.minute()).ok()?;
                continue;
            }
            return zone.to_timestamp(t).ok();
        }
        None
    }
}

/// One field as a table of matching values (index = value).
fn field(
    text: &str,
    name: &str,
    min: usize,
    max: usize,
    names: &[&str],
    name_base: usize,
) -> Result<Vec<bool>, String> {
    let mut set = vec![false; max + 1];
    let value = |s: &str| -> Result<usize, String> {
        let lower = s.to_ascii_lowercase();
        match names.iter().position(|n| *n == lower) {
            Some(i) => Ok(i + name_base),
            None => s.parse().map_err(|_| match names.first() {
                Some(example) => {
                    format!("the {name} field has {s:?}, which is neither a number nor a name such as {example}")
                }
                None => format!("the {name} field has {s:?}, which is not a number"),
            }),
        }
    };
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => match step.parse::<usize>() {
                Ok(step) if step > 0 => (range, step),
                _ => return Err(format!("the {name} field has the step {step:?}: a step is a number of at least 1")),
            },
            None => (part, 1),
        };
        let (low, high) = match range {
            "*" | "?" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if part.contains('/') => (value(range)?, max),
                None => (value(range)?, value(range)?),
            },
        };
        for v in [low, high] {
            if v < min || v > max {
                return Err(format!("the {name} field has {v}, outside {min}-{max}"));
            }
        }
        if low > high {
            return Err(format!("the {name} field has the range {range}, which runs backwards"));
        }
        for v in (low..=high).step_by(step) {
            set[v] = true;
        }
    }
    Ok(set)
}

/// What is wrong with a schedule: its field (`cron` or `timeZone`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unschedulable {
    pub field: &'static str,
    pub problem: String,
}

/// A schedule's expression and time zone, read as the schedule will be run.
pub fn parse(cron: &str, zone: Option<&str>) -> Result<(Cron, TimeZone), Unschedulable> {
    let cron = Cron::parse(cron).map_err(|problem| Unschedulable { field: "cron", problem })?;
    let zone = match zone {
        None | Some("UTC") | Some("Etc/UTC") => TimeZone::UTC,
        Some(name) => TimeZone::get(name).map_err(|_| Unschedulable {
            field: "timeZone",
            problem: format!(
                "{name:?} is not a time zone of the IANA database: use a name such as UTC or Europe/Paris"
            ),
        })?,
    };
    Ok((cron, zone))
}

/// The next run of `cron` in `zone` (default UTC) after `after`; `None` when the schedule cannot
/// be read (the check of the spec says why) or never fires (`0 0 31 2 *`).
pub fn next_run(cron: &str, zone: Option<&str>, after: Timestamp) -> Option<Timestamp> {
    let (cron, zone) = parse(cron, zone).ok()?;
    cron.next_after(after, &zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn next(cron: &str, after: &str) -> String {
        next_run(cron, None, at(after)).map(|t| t.to_string()).unwrap_or_else(|| "none".into())
    }

    #[test]
    fn common_schedules() {
        assert_eq!(next("* * * * *", "2026-01-01T10:00:30Z"), "2026-01-01T10:01:00Z");
        assert_eq!(next("* * * * *", "2026-01-01T10:00:00Z"), "2026-01-01T10:01:00Z");
        assert_eq!(next("0 */6 * * *", "2026-01-01T10:00:00Z"), "2026-01-01T12:00:00Z");
        assert_eq!(next("@daily", "2026-01-01T10:00:00Z"), "2026-01-02T00:00:00Z");
        assert_eq!(next("30 9 * * mon-fri", "2026-01-02T10:00:00Z"), "2026-01-05T09:30:00Z"); // Fri → Mon
        assert_eq!(next("0 0 29 feb *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
        assert_eq!(next("0 12 1 * 0", "2026-01-02T00:00:00Z"), "2026-01-04T12:00:00Z"); // Sunday, or the 1st
        assert_eq!(next("0 0 * * 7", "2026-01-01T00:00:00Z"), "2026-01-04T00:00:00Z"); // 7 is Sunday
        assert_eq!(next("5,10-12/2 * * * *", "2026-01-01T10:06:00Z"), "2026-01-01T10:10:00Z");
    }

    #[test]
    fn time_zones_are_honoured() {
        let next = next_run("0 7 * * *", Some("Europe/Paris"), at("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(next.to_string(), "2026-01-01T06:00:00Z");
        assert_eq!(next_run("0 7 * * *", Some("Not/AZone"), at("2026-01-01T00:00:00Z")), None);
        let unknown = parse("0 7 * * *", Some("Europe/Pariss")).unwrap_err();
        assert_eq!(unknown.field, "timeZone");
        assert!(unknown.problem.starts_with("\"Europe/Pariss\" is not a time zone"), "{}", unknown.problem);
    }

    #[test]
    fn malformed_schedules_say_what_is_wrong() {
        for (cron, problem) in [
            ("* * *", "has 3 fields; a cron expression has five (minute hour day-of-month month day-of-week)"),
            ("* * * * * *", "has 6 fields"),
            ("61 * * * *", "the minute field has 61, outside 0-59"),
            ("0 24 * * *", "the hour field has 24, outside 0-23"),
            ("0 0 0 * *", "the day-of-month field has 0, outside 1-31"),
            ("0 0 * 13 *", "the month field has 13, outside 1-12"),
            ("0 0 * * 8", "the day-of-week field has 8, outside 0-7"),
            ("a b c d e", "the minute field has \"a\", which is not a number"),
            (
                "0 0 * * funday",
                "the day-of-week field has \"funday\", which is neither a number nor a name such as sun",
            ),
            ("*/0 * * * *", "the minute field has the step \"0\""),
            ("5-1 * * * *", "the minute field has the range 5-1, which runs backwards"),
        ] {
            let error = Cron::parse(cron).unwrap_err();
            assert!(error.contains(problem), "{cron}: {error}");
        }
    }

    #[test]
    fn the_bundled_time_zone_database_is_used() {
        // The operator's image has no /usr/share/zoneinfo of its own.
        assert!(parse("@daily", Some("America/Argentina/Buenos_Aires")).is_ok());
    }
}
