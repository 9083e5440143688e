//! A schedule's expression as robfig/cron v3.0.1's standard parser reads it (`parser.go`:
//! `ParseStandard`, `getField`, `getRange`; the bounds of `spec.go`), less what the parent module
//! refuses on purpose.

/// One parsed schedule: the values each field matches, as bit sets (bit `n` = value `n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    pub(super) minutes: u64,
    pub(super) hours: u64,
    pub(super) days: u64,
    pub(super) months: u64,
    pub(super) weekdays: u64,
    /// Whether day-of-month and day-of-week hold an unstepped `*` or `?` (robfig's `starBit`):
    /// if either does, a day must match both fields; otherwise either.
    pub(super) days_star: bool,
    pub(super) weekdays_star: bool,
}

/// One field: its name in messages, its values and the names it takes for them.
struct Bounds {
    name: &'static str,
    min: u64,
    max: u64,
    /// Names of `min`, `min + 1`, ... (robfig lower-cases the text before looking it up).
    names: &'static [&'static str],
}

const MINUTE: Bounds = Bounds { name: "minute", min: 0, max: 59, names: &[] };
const HOUR: Bounds = Bounds { name: "hour", min: 0, max: 23, names: &[] };
const DAY: Bounds = Bounds { name: "day-of-month", min: 1, max: 31, names: &[] };
const MONTH: Bounds = Bounds {
    name: "month",
    min: 1,
    max: 12,
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
/// Sunday is 0 only: robfig refuses 7, which some crons also take for Sunday.
const WEEKDAY: Bounds =
    Bounds { name: "day-of-week", min: 0, max: 6, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

/// robfig's descriptors (`parseDescriptor`), as the five fields they stand for.
const DESCRIPTORS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

impl Cron {
    /// The schedule, or what is wrong with it, in a sentence.
    pub fn parse(expression: &str) -> Result<Cron, String> {
        // Taken as written, as Argo's validation does: " @daily" and "@daily " are refused.
        if expression.starts_with('@') {
            return descriptor(expression);
        }
        if let Some(prefix) = ["CRON_TZ=", "TZ="].into_iter().find(|p| expression.starts_with(p)) {
            return Err(format!(
                "{expression:?} starts with {prefix}: give the zone as spec.schedule.timeZone instead"
            ));
        }
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else {
            return Err(format!(
                "{expression:?} has {} fields; a cron expression has five (minute hour day-of-month month \
                 day-of-week), such as '0 */6 * * *'",
                fields.len()
            ));
        };
        // In the order they are written, so the first wrong field is the one named.
        let (minutes, _) = field(minute, &MINUTE)?;
        let (hours, _) = field(hour, &HOUR)?;
        let (days, days_star) = field(day, &DAY)?;
        let (months, _) = field(month, &MONTH)?;
        let (weekdays, weekdays_star) = field(weekday, &WEEKDAY)?;
        Ok(Cron { minutes, hours, days, months, weekdays, days_star, weekdays_star })
    }
}

fn descriptor(expression: &str) -> Result<Cron, String> {
    if let Some((_, fields)) = DESCRIPTORS.iter().find(|(name, _)| *name == expression) {
        return Cron::parse(fields);
    }
    if expression.starts_with("@every") {
        return Err(format!(
            "{expression:?} is not supported: Argo restarts an @every count whenever the CronWorkflow \
             changes (its status does as runs start and end), so runs would drift; use five fields, \
             such as '*/15 * * * *'"
        ));
    }
    let names: Vec<&str> = DESCRIPTORS.iter().map(|(name, _)| *name).collect();
    Err(format!("{expression:?} is not a descriptor Argo knows; use one of {}", names.join(", ")))
}

/// A comma-separated list of ranges: the values matched, and whether one is an unstepped `*`/`?`.
fn field(text: &str, bounds: &Bounds) -> Result<(u64, bool), String> {
    let mut bits = 0;
    let mut star = false;
    for item in text.split(',') {
        // robfig skips empty items, so `,` alone would never fire.
        if item.is_empty() {
            return Err(format!("the {} field {text:?} has an empty list item: remove the extra comma", bounds.name));
        }
        let (item_bits, item_star) = range(item, bounds)?;
        bits |= item_bits;
        star |= item_star;
    }
    Ok((bits, star))
}

/// `*`, `?`, `N`, `N-M`, each optionally `/STEP`; `N/STEP` runs from N to the field's end.
fn range(item: &str, bounds: &Bounds) -> Result<(u64, bool), String> {
    let name = bounds.name;
    let (range, step) = match item.split_once('/') {
        None => (item, None),
        Some((range, step)) => match number(step) {
            Some(step) if step > 0 => (range, Some(step)),
            _ => return Err(format!("the {name} field has the step {step:?}: a step is a whole number of at least 1")),
        },
    };
    if range == "*" || range == "?" {
        let every = bits(bounds.min, bounds.max, step.unwrap_or(1));
        // A step of 1 leaves it a star (robfig clears the star bit only for steps above 1).
        return Ok((every, step.is_none_or(|s| s == 1)));
    }
    if range.starts_with(['*', '?']) {
        // robfig reads `*-5` as `*`, dropping the rest: refused, as it cannot mean what it says.
        return Err(format!(
            "the {name} field has {range:?}: a range runs from a number or name to another, such as 1-5; \
             * stands alone"
        ));
    }
    let (start, end) = match range.split('-').collect::<Vec<_>>().as_slice() {
        [single] => {
            let start = value(single, bounds)?;
            (start, if step.is_some() { bounds.max } else { start })
        }
        [start, end] => (value(start, bounds)?, value(end, bounds)?),
        _ => return Err(format!("the {name} field has {range:?}: a range has one hyphen, such as 1-5")),
    };
    for v in [start, end] {
        if v < bounds.min || v > bounds.max {
            let hint = if bounds.name == WEEKDAY.name && v == 7 { " (Sunday is 0)" } else { "" };
            return Err(format!("the {name} field has {v}, outside {}-{}{hint}", bounds.min, bounds.max));
        }
    }
    if start > end {
        return Err(format!("the {name} field has the range {range}, which runs backwards"));
    }
    Ok((bits(start, end, step.unwrap_or(1)), false))
}

/// A number or one of the field's names.
fn value(text: &str, bounds: &Bounds) -> Result<u64, String> {
    // Go's `strings.ToLower`: one character for one (İ is i), unlike `str::to_lowercase`.
    let lower: String = text.chars().map(|c| c.to_lowercase().next().unwrap_or(c)).collect();
    if let Some(i) = bounds.names.iter().position(|n| *n == lower) {
        return Ok(bounds.min + i as u64);
    }
    number(text).ok_or_else(|| match bounds.names.first() {
        Some(example) => {
            format!("the {} field has {text:?}, which is neither a number nor a name such as {example}", bounds.name)
        }
        None => format!("the {} field has {text:?}, which is not a number", bounds.name),
    })
}

/// A non-negative number as Go's `strconv.Atoi` reads one (an optional `+`, decimal digits, within
/// an int64).
fn number(text: &str) -> Option<u64> {
    text.parse::<i64>().ok().and_then(|n| u64::try_from(n).ok())
}

/// `start..=end` by `step`, within a field's bounds (so below 64).
fn bits(start: u64, end: u64, step: u64) -> u64 {
    let mut bits = 0;
    let mut v = start;
    while v <= end {
        bits |= 1 << v;
        v = v.saturating_add(step);
    }
    bits
}
