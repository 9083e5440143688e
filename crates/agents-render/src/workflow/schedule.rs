//! When a cron schedule fires next (for `status.nextScheduledTime`): the five standard fields
//! (`*`, lists, ranges, steps, month and day names, 7 = Sunday) and the `@hourly`-style macros,
//! with cron's rule that a restricted day-of-month and day-of-week match either.

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

impl Cron {
    pub fn parse(expression: &str) -> Option<Cron> {
        let expanded = match expression.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else { return None };
        let mut weekdays = field(weekday, 0, 7, &WEEKDAYS, 0)?;
        if weekdays[7] {
            weekdays[0] = true;
        }
        weekdays.truncate(7);
        Some(Cron {
            minutes: field(minute, 0, 59, &[], 0)?,
            hours: field(hour, 0, 23, &[], 0)?,
            days: field(day, 1, 31, &[], 0)?,
            months: field(month, 1, 12, &MONTHS, 1)?,
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
fn field(text: &str, min: usize, max: usize, names: &[&str], name_base: usize) -> Option<Vec<bool>> {
    let mut set = vec![false; max + 1];
    let value = |s: &str| -> Option<usize> {
        let lower = s.to_ascii_lowercase();
        match names.iter().position(|n| *n == lower) {
            Some(i) => Some(i + name_base),
            None => s.parse().ok(),
        }
    };
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, step.parse::<usize>().ok().filter(|s| *s > 0)?),
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
        if low < min || high > max || low > high {
            return None;
        }
        for v in (low..=high).step_by(step) {
            set[v] = true;
        }
    }
    Some(set)
}

/// The next run of `cron` in `zone` (default UTC) after `after`; `None` when the expression or
/// the zone cannot be read here (the status then leaves the field out).
pub fn next_run(cron: &str, zone: Option<&str>, after: Timestamp) -> Option<Timestamp> {
    let zone = match zone {
        None | Some("UTC") | Some("Etc/UTC") => TimeZone::UTC,
        Some(name) => TimeZone::get(name).ok()?,
    };
    Cron::parse(cron)?.next_after(after, &zone)
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
    }

    #[test]
    fn malformed_schedules_have_no_next_run() {
        for cron in ["* * *", "61 * * * *", "* * * * * *", "a b c d e", "*/0 * * * *", "5-1 * * * *"] {
            assert_eq!(Cron::parse(cron), None, "{cron}");
        }
    }
}
