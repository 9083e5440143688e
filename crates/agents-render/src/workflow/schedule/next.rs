//! When a schedule fires next, as robfig/cron v3.0.1's `SpecSchedule.Next` (`spec.go`) finds it,
//! step for step on Go's `time` arithmetic, so that `status.nextScheduledTime` is when Argo will
//! start the run even around daylight-saving changes: a wall time a spring-forward skips does not
//! fire that day (nor `0 0 * * *` on a day without a midnight, as America/Santiago's first Sunday
//! of September), and one a fall-back repeats fires twice.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::Cron;

/// A bound on the search's steps, so no input can make it spin; robfig's own bound (five years)
/// is reached first by any schedule: five years of days is under 2,000 steps.
const MAX_STEPS: u32 = 100_000;

impl Cron {
    /// The first time after `after` (strictly) at which Argo starts a run, in `zone`; `None` when
    /// there is none within five years (`0 0 30 2 *`), as robfig gives up there too.
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let clock = Clock(zone);
        let mut steps = 0;
        let mut step = || {
            steps += 1;
            (steps <= MAX_STEPS).then_some(())
        };
        // Go: the upcoming whole second.
        let floor = after.as_second() - i64::from(after.subsec_nanosecond() < 0);
        let mut t = floor + 1;
        // Once a field moved, the smaller ones start from zero.
        let mut added = false;
        let year_limit = clock.civil(t)?.year() + 5;
        'wrap: loop {
            let mut c = clock.civil(t)?;
            if c.year() > year_limit {
                return None;
            }
            while !has(self.months, c.month()) {
                step()?;
                if !added {
                    added = true;
                    t = clock.date(c.year(), c.month(), 1, 0, 0, 0)?;
                }
                t = clock.add_date(t, 1, 0)?;
                c = clock.civil(t)?;
                if c.month() == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(c) {
                step()?;
                if !added {
                    added = true;
                    t = clock.date(c.year(), c.month(), c.day(), 0, 0, 0)?;
                }
                t = clock.add_date(t, 0, 1)?;
                c = clock.civil(t)?;
                // robfig's correction for a midnight a transition moved: Go's `Date` places a
                // missing one an hour early or late.
                if c.hour() != 0 {
                    let hour = i64::from(c.hour());
                    t += if hour > 12 { (24 - hour) * 3600 } else { -hour * 3600 };
                    c = clock.civil(t)?;
                }
                if c.day() == 1 {
                    continue 'wrap;
                }
            }
            while !has(self.hours, c.hour()) {
                step()?;
                if !added {
                    added = true;
                    t = clock.date(c.year(), c.month(), c.day(), c.hour(), 0, 0)?;
                }
                t += 3600;
                c = clock.civil(t)?;
                if c.hour() == 0 {
                    continue 'wrap;
                }
            }
            while !has(self.minutes, c.minute()) {
                step()?;
                if !added {
                    added = true;
                    t -= t.rem_euclid(60);
                }
                t += 60;
                c = clock.civil(t)?;
                if c.minute() == 0 {
                    continue 'wrap;
                }
            }
            // The seconds field is always 0 (the offset of a zone's early local mean time is not
            // a whole minute, so its wall seconds can be other than 0).
            while c.second() != 0 {
                step()?;
                added = true;
                t += 1;
                c = clock.civil(t)?;
                if c.second() == 0 {
                    continue 'wrap;
                }
            }
            return Timestamp::from_second(t).ok();
        }
    }

    /// robfig's `dayMatches`.
    fn day_matches(&self, c: DateTime) -> bool {
        let day = has(self.days, c.day());
        let weekday = has(self.weekdays, c.weekday().to_sunday_zero_offset());
        if self.days_star || self.weekdays_star { day && weekday } else { day || weekday }
    }
}

fn has(bits: u64, value: i8) -> bool {
    u32::try_from(value).is_ok_and(|v| bits >> v & 1 == 1)
}

/// Go's `time` in one zone, on Unix seconds.
struct Clock<'z>(&'z TimeZone);

impl Clock<'_> {
    /// `t`'s wall clock (Go's `t.Year()`, `t.Hour()`, ...).
    fn civil(&self, t: i64) -> Option<DateTime> {
        Some(self.0.to_datetime(Timestamp::from_second(t).ok()?))
    }

    fn offset(&self, t: i64) -> Option<i64> {
        Some(i64::from(self.0.to_offset(Timestamp::from_second(t).ok()?).seconds()))
    }

    /// Go's `time.Date`: a month or day past its end carries over (February 30 is March 2), and
    /// a wall time a transition skips or repeats takes the offset in force at that wall time read
    /// as UTC, corrected once, which is what Go's `Date` does (not always the earlier one).
    fn date(&self, year: i16, month: i8, day: i8, hour: i8, minute: i8, second: i8) -> Option<i64> {
        let months = i64::from(year) * 12 + i64::from(month) - 1;
        let first = Date::new(i16::try_from(months.div_euclid(12)).ok()?, (months.rem_euclid(12) + 1) as i8, 1).ok()?;
        let date = first.checked_add((i64::from(day) - 1).days()).ok()?;
        let midnight = TimeZone::UTC.to_timestamp(date.to_datetime(Time::midnight())).ok()?.as_second();
        let wall = midnight + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
        Some(wall - self.offset(wall - self.offset(wall)?)?)
    }

    /// Go's `t.AddDate(0, months, days)`: the same wall clock that many months and days on.
    fn add_date(&self, t: i64, months: i8, days: i8) -> Option<i64> {
        let c = self.civil(t)?;
        self.date(
            c.year(),
            c.month().checked_add(months)?,
            c.day().checked_add(days)?,
            c.hour(),
            c.minute(),
            c.second(),
        )
    }
}
