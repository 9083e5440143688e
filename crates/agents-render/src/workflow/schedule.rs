//! Whether a cron schedule can run, and when it fires next (for `status.nextScheduledTime`), read
//! as Argo reads it: Argo's CronWorkflow controller (v3.7.18) parses `schedules[]` with
//! robfig/cron v3.0.1's standard parser (five fields, or a descriptor such as `@daily`), prefixes
//! `CRON_TZ=<timezone>`, and starts runs at `Schedule.Next`. Both are reproduced rule for rule
//! (`expression`, `next`), and the e2e test `cron_schedule` holds them to the real library.
//! Ours rather than a crate's: what must match is robfig's own reading, its rule for
//! day-of-month with day-of-week and its daylight-saving arithmetic included.
//!
//! Refused on purpose although Argo takes them (each more likely a mistake than a meaning):
//! - `@every 1h`: Argo restarts the count whenever the CronWorkflow changes (its status does as
//!   runs start and end), so runs drift and when the next comes cannot be known;
//! - an empty list item (`1,,2`; robfig skips it, and a field of commas alone never fires);
//! - `*-5` (robfig reads it as `*`);
//! - a `TZ=` or `CRON_TZ=` prefix (the zone is `timeZone`);
//! - the zone `Local` (the Argo controller's own), and a zone spelt otherwise than in the IANA
//!   database (`europe/paris`: Go's lookup is case-sensitive).

mod expression;
mod next;

pub use expression::Cron;
use jiff::Timestamp;
use jiff::tz::TimeZone;

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
        // What Argo's controller, running in UTC, reads a schedule without a zone in.
        None => TimeZone::UTC,
        Some(name) => named_zone(name).map_err(|problem| Unschedulable { field: "timeZone", problem })?,
    };
    Ok((cron, zone))
}

/// A zone as Go's `time.LoadLocation` finds it (exactly as the database spells it), from the
/// operator's own copy of the database.
fn named_zone(name: &str) -> Result<TimeZone, String> {
    if name == "Local" {
        return Err("\"Local\" is the Argo controller's own zone, which the operator cannot see: name a zone, \
                    such as UTC or Europe/Paris"
            .into());
    }
    match TimeZone::get(name) {
        Ok(zone) if zone.iana_name() == Some(name) => Ok(zone),
        Ok(zone) => Err(format!(
            "{name:?} is spelt {:?} in the IANA database, and Argo needs it spelt so",
            zone.iana_name().unwrap_or_default()
        )),
        Err(_) => {
            Err(format!("{name:?} is not a time zone of the IANA database: use a name such as UTC or Europe/Paris"))
        }
    }
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
        assert_eq!(next("0 0 */10 * 1", "2026-01-02T00:00:00Z"), "2026-01-05T00:00:00Z"); // a step: either
        assert_eq!(next("0 0 */1 * 1", "2026-01-02T00:00:00Z"), "2026-01-05T00:00:00Z"); // a star: both
        assert_eq!(next("0 0 1,* * 1", "2026-01-02T00:00:00Z"), "2026-01-05T00:00:00Z");
        assert_eq!(next("0 0 31 2 *", "2026-01-01T00:00:00Z"), "none");
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

    /// Around Europe/Berlin's changes of 2026: 02:00 → 03:00 on 29 March, 03:00 → 02:00 on 25 October.
    #[test]
    fn daylight_saving_changes_are_read_as_robfig_does() {
        let berlin = |cron: &str, after: &str| {
            next_run(cron, Some("Europe/Berlin"), at(after)).map(|t| t.to_string()).unwrap_or_default()
        };
        // 02:30 does not exist on the 29th: the next is the 30th's.
        assert_eq!(berlin("30 2 * * *", "2026-03-28T12:00:00Z"), "2026-03-30T00:30:00Z");
        // It exists twice on 25 October: both fire.
        assert_eq!(berlin("30 2 * * *", "2026-10-24T12:00:00Z"), "2026-10-25T00:30:00Z");
        assert_eq!(berlin("30 2 * * *", "2026-10-25T00:30:00Z"), "2026-10-25T01:30:00Z");
        assert_eq!(berlin("59 * * * *", "2026-10-25T00:59:00Z"), "2026-10-25T01:59:00Z");
    }

    #[test]
    fn zones_are_spelt_as_the_database_does() {
        assert!(parse("@daily", Some("America/New_York")).is_ok());
        let lower = parse("@daily", Some("america/new_york")).unwrap_err();
        assert_eq!(
            lower.problem,
            "\"america/new_york\" is spelt \"America/New_York\" in the IANA database, and Argo needs it spelt so"
        );
        assert!(parse("@daily", Some("Local")).unwrap_err().problem.contains("name a zone"));
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
            ("0 0 * * 8", "the day-of-week field has 8, outside 0-6"),
            ("0 0 * * 5-7", "the day-of-week field has 7, outside 0-6 (Sunday is 0)"),
            ("0 0 * jan-foo *", "the month field has \"foo\", which is neither a number nor a name such as jan"),
            ("1,,2 * * * *", "the minute field \"1,,2\" has an empty list item"),
            ("*-5 * * * *", "the minute field has \"*-5\""),
            ("1-2-3 * * * *", "a range has one hyphen"),
            ("@every 1h", "\"@every 1h\" is not supported"),
            ("@daily ", "\"@daily \" is not a descriptor Argo knows; use one of @yearly"),
            ("TZ=UTC 0 * * * *", "give the zone as spec.schedule.timeZone"),
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
