//! The operator's reading of `spec.schedule` held to Argo's: the same expressions, zones and start
//! times go to `agents_render::workflow::schedule` and to `cron-next` (`cron_next.go`), which runs
//! the real robfig/cron v3.0.1 (the version Argo Workflows v3.7.18 pins), built from the Go module
//! proxy, exactly as Argo's validation and CronWorkflow controller call it. Both must accept and
//! refuse alike, and agree on the next five runs of every accepted schedule; what the operator
//! refuses on purpose (listed in the schedule module) must be what Argo would take.
//!
//! No control plane: the test only builds and runs the Go program. Both sides read a zone's rules
//! from the same file of the system's database (/usr/share/zoneinfo), so a difference between
//! database versions cannot pass for a difference of reading; which zone names exist is compared
//! with the operator's own (bundled) database.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use agents_render::workflow::schedule::{self, Cron};
use agents_testenv::tools::GoTool;
use agents_testenv::{cache_dir, gobuild};
use anyhow::{Context, bail, ensure};
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use libtest_mimic::Trial;
use serde::{Deserialize, Serialize};

use crate::support::{Env, output_within, text};

pub fn tests(_env: &Arc<Env>) -> Vec<Trial> {
    vec![Trial::test("cron_schedule::schedules_are_read_as_argos_cron_library_reads_them", || {
        schedules_are_read_as_argos_cron_library_reads_them().map_err(|e| format!("{e:#}").into())
    })]
}

const ROBFIG_CRON: &str = "github.com/robfig/cron/v3 v3.0.1";

const CRON_NEXT_MAIN: &str = include_str!("cron_next.go");

const CRON_NEXT: GoTool = GoTool {
    name: "cron-next",
    module: "github.com/robfig/cron/v3",
    version: "v3.0.1",
    packages: &[],
    main_go: Some(CRON_NEXT_MAIN),
    replaces_staging: false,
    version_packages: &[],
    link_variables: &[],
    cgo: None,
};

/// Where both sides read a zone's rules.
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// Zones whose clocks change in the ways robfig's arithmetic has to survive: an hour forward and
/// back (Berlin east of UTC, New York west of it, where Go resolves a repeated hour differently),
/// at midnight (Santiago, Havana), by half an hour (Lord Howe), at :45 (Chatham), and a
/// quarter-hour offset that never changes (Kathmandu).
const ZONES: [&str; 8] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "America/Havana",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kathmandu",
];

/// Ranges, steps, lists, names, `?`, day-of-month with day-of-week, bounds, descriptors and
/// malformed input, each from two starts.
const EXPRESSIONS: &[&str] = &[
    "* * * * *",
    "*/15 * * * *",
    "5-50/10 * * * *",
    "0,30 9-17 * * *",
    "0 9-17/2 * * *",
    "23 0-20/2 * * *",
    "15 14 1 * *",
    "0 22 * * 1-5",
    "5 4 * * sun",
    "0 0,12 1 */2 *",
    "0 4 8-14 * *",
    "0/100 * * * *",
    "*/60 * * * *",
    "5/15 * * * *",
    "+5 * * * *",
    "05 09 * * *",
    "  0   12 * * *  ",
    "0\t12\t*\t*\t*",
    "*/9223372036854775807 * * * *",
    // Day-of-month with day-of-week: either, unless one holds an unstepped * or ?.
    "0 0 1,15 * 3",
    "0 0 */2 * 1",
    "0 0 */1 * 1",
    "0 0 ?/1 * 1",
    "0 0 ?/2 * 1",
    "0 0 ? * 1",
    "0 0 1 * ?",
    "0 0 1,* * 1",
    "0 0 1 * */2",
    "0 0 1 * 0-6",
    "0 0 13 * 5",
    "0 0 29 2 1",
    "0 0 29 2 *",
    "0 0 31 * *",
    "0 0 30 2 *",
    // Names.
    "0 12 * JAN,mar-May *",
    "0 12 * * MON-FRI",
    "0 12 * * Sat,sun",
    "0 12 * jan/3 *",
    "0 12 * * tue/2",
    "0 12 * * FRİ",
    "0 12 * DEC-jan *",
    "0 12 * * mon-sun",
    "0 12 * * monday",
    "0 12 jan * *",
    "? ? ? ? ?",
    // Out of range and malformed.
    "60 * * * *",
    "* 24 * * *",
    "* * 0 * *",
    "* * 32 * *",
    "* * * 0 *",
    "* * * 13 *",
    "* * * * 7",
    "0 0 * * 5-7",
    "* * * * 8",
    "*/0 * * * *",
    "*/-1 * * * *",
    "*/+2 * * * *",
    "*/ * * * *",
    "/5 * * * *",
    "5- * * * *",
    "-1 * * * *",
    "5-1 * * * *",
    "1-2-3 * * * *",
    "1/2/3 * * * *",
    "a * * * *",
    "9223372036854775807 * * * *",
    "*/9223372036854775808 * * * *",
    "*/18446744073709551615 * * * *",
    "* * L * *",
    "* * 15W * *",
    "* * * * 5#3",
    "* * * *",
    "* * * * * *",
    "",
    "   ",
    // Descriptors.
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
    "@reboot",
    "@Daily",
    " @daily",
    "@daily ",
    "@every",
];

/// Accepted by Argo, refused by the operator on purpose (the schedule module says why).
const REFUSED_ON_PURPOSE: &[&str] = &[
    "@every 1h",
    "@every 90s",
    "1,,2 * * * *",
    "5, * * * *",
    ", * * * *",
    "*-5 * * * *",
    "?-3 * * * *",
    "TZ=Europe/Paris 0 9 * * *",
    "CRON_TZ=Asia/Tokyo 0 9 * * *",
];

/// Schedules whose runs fall where the zones' clocks change, from a few hours before each change.
const AROUND_CHANGES: &[&str] = &[
    "0 * * * *",
    "30 * * * *",
    "*/20 * * * *",
    "0 0 * * *",
    "30 0 * * *",
    "0 1 * * *",
    "30 1 * * *",
    "15 1-3 * * *",
    "0 2 * * *",
    "30 2 * * *",
    "45 2 * * *",
    "0 3 * * *",
    "0 12 * * *",
    "59 23 * * *",
    "0 12 * * 0",
    "0 0 1 * *",
    "@daily",
];

/// Zone names: as the database spells them, otherwise, links, and none.
const ZONE_NAMES: &[&str] = &[
    "UTC",
    "Etc/UTC",
    "utc",
    "GMT",
    "Europe/Berlin",
    "europe/berlin",
    "EUROPE/BERLIN",
    "US/Eastern",
    "Asia/Calcutta",
    "EST5EDT",
    "Etc/GMT+5",
    "America/Argentina/Buenos_Aires",
    "America",
    "Europe/Berlin/",
    "Mars/Olympus",
    "Europe/Pariss",
];

/// The seed of the generated cases: fixed, so a failure is reproducible.
const SEED: u64 = 0x5eed_c0de_2026;
const GENERATED: usize = 400;

fn schedules_are_read_as_argos_cron_library_reads_them() -> anyhow::Result<()> {
    let cron_next = build_cron_next()?;
    let versions = text(&run(Command::new(&cron_next).arg("--versions"), None)?.stdout);
    ensure!(versions.lines().any(|l| l == ROBFIG_CRON), "cron-next was not built with {ROBFIG_CRON}:\n{versions}");

    let zones = ZONES.iter().map(|name| Ok((*name, system_zone(name)?))).collect::<anyhow::Result<Vec<_>>>()?;
    let cases = cases(&zones)?;
    let started = Instant::now();
    let input = serde_json::to_vec(&cases)?;
    let argo: Vec<Argo> =
        serde_json::from_slice(&run(Command::new(&cron_next).env("ZONEINFO", ZONEINFO), Some(&input))?.stdout)
            .context("reading cron-next's results")?;
    ensure!(argo.len() == cases.len(), "cron-next answered {} of {} cases", argo.len(), cases.len());

    let mut failures = Vec::new();
    let (mut accepted, mut refused, mut runs) = (0, 0, 0);
    for (case, argo) in cases.iter().zip(&argo) {
        let ours = ours(case, &zones);
        let on_purpose = REFUSED_ON_PURPOSE.contains(&case.cron.as_str()) || case.zone == "Local";
        match (&argo.error, &ours) {
            (Some(_), Err(_)) => refused += 1,
            (None, Err(_)) if on_purpose => refused += 1,
            (None, Ok(_)) if case.names_only => accepted += 1,
            (None, Ok(ours)) => {
                accepted += 1;
                runs += ours.len();
                if *ours != argo.next {
                    failures.push(format!("{case}: Argo runs it at {:?}, we say {ours:?}", argo.next));
                }
            }
            (Some(error), Ok(_)) => failures.push(format!("{case}: Argo refuses it ({error}), we accept it")),
            (None, Err(why)) => failures.push(format!("{case}: Argo accepts it, we refuse it: {why}")),
        }
        if on_purpose && (argo.error.is_some() || ours.is_ok()) {
            failures.push(format!("{case}: listed as refused on purpose, but Argo refuses it or we accept it"));
        }
    }
    eprintln!(
        "cron_schedule: {} cases ({accepted} accepted with {runs} runs compared, {refused} refused) in {:.1?}",
        cases.len(),
        started.elapsed()
    );
    if !failures.is_empty() {
        bail!("{} of {} cases differ from robfig/cron v3.0.1:\n{}", failures.len(), cases.len(), failures.join("\n"));
    }
    // Not a vacuous agreement: both sides took most cases and refused many.
    ensure!(accepted > cases.len() / 2 && refused > 100, "only {accepted} accepted, {refused} refused");
    Ok(())
}

/// One question to both sides.
#[derive(Debug, Clone, Serialize)]
struct Case {
    cron: String,
    /// "" for none (UTC).
    zone: String,
    /// RFC 3339.
    start: String,
    /// Only whether the zone's name is taken is compared (its rules come from another database).
    #[serde(skip)]
    names_only: bool,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.cron)?;
        if !self.zone.is_empty() {
            write!(f, " in {}", self.zone)?;
        }
        write!(f, " after {}", self.start)
    }
}

/// What Argo makes of a case.
#[derive(Debug, Deserialize)]
struct Argo {
    #[serde(default)]
    next: Vec<String>,
    error: Option<String>,
}

/// The operator's reading: refused (why), or the next five runs (fewer if it stops firing).
fn ours(case: &Case, zones: &[(&str, TimeZone)]) -> Result<Vec<String>, String> {
    let zone = (!case.zone.is_empty()).then_some(case.zone.as_str());
    let (cron, _) =
        schedule::parse(&case.cron, zone).map_err(|why| format!("spec.schedule.{}: {}", why.field, why.problem))?;
    if case.names_only {
        return Ok(Vec::new());
    }
    let zone = match zone {
        None => TimeZone::UTC,
        Some(name) => zones.iter().find(|(n, _)| *n == name).map(|(_, z)| z.clone()).ok_or("not a test zone")?,
    };
    Ok(next_five(&cron, &zone, case.start.parse().map_err(|e| format!("{e}"))?))
}

fn next_five(cron: &Cron, zone: &TimeZone, start: Timestamp) -> Vec<String> {
    std::iter::successors(cron.next_after(start, zone), |t| cron.next_after(*t, zone))
        .take(5)
        .map(|t| t.to_string())
        .collect()
}

fn cases(zones: &[(&str, TimeZone)]) -> anyhow::Result<Vec<Case>> {
    let case = |cron: &str, zone: &str, start: Timestamp| Case {
        cron: cron.into(),
        zone: zone.into(),
        start: start.to_string(),
        names_only: false,
    };
    let mut cases = Vec::new();
    for cron in EXPRESSIONS {
        for (zone, start) in [("", "2026-01-30T23:59:59.999Z"), ("Europe/Berlin", "2026-02-27T10:15:00Z")] {
            cases.push(case(cron, zone, start.parse()?));
        }
    }
    // Without a zone: Argo cannot schedule `TZ=` behind its own `CRON_TZ=`.
    for cron in REFUSED_ON_PURPOSE {
        cases.push(case(cron, "", "2026-01-30T23:59:59.999Z".parse()?));
    }
    let year = "2026-01-01T00:00:00Z".parse::<Timestamp>()?;
    for (name, zone) in zones {
        for change in zone.following(year).take(2) {
            for cron in AROUND_CHANGES {
                cases.push(case(cron, name, change.timestamp() - SignedDuration::from_hours(3)));
            }
        }
    }
    for name in ZONE_NAMES.iter().chain(&["Local"]) {
        cases.push(Case { names_only: true, ..case("@daily", name, year) });
    }
    let mut rng = Rng(SEED);
    for _ in 0..GENERATED {
        let (name, zone) = rng.pick(zones);
        let zone_name = if *name == "UTC" && rng.chance(50) { "" } else { name };
        cases.push(case(&rng.expression(), zone_name, rng.start(zone)?));
    }
    Ok(cases)
}

/// A zone from the system's database, as `cron-next` reads it with `ZONEINFO`.
fn system_zone(name: &str) -> anyhow::Result<TimeZone> {
    if name == "UTC" {
        return Ok(TimeZone::UTC);
    }
    let path = Path::new(ZONEINFO).join(name);
    let data =
        std::fs::read(&path).with_context(|| format!("reading {} (install the tzdata package)", path.display()))?;
    Ok(TimeZone::tzif(name, &data)?)
}

/// Builds `cron-next` into the tool cache; rebuilt when `cron_next.go` changed since.
fn build_cron_next() -> anyhow::Result<PathBuf> {
    let built = Instant::now();
    let mut bin = gobuild::ensure(&CRON_NEXT, &cache_dir())?;
    let source = bin.with_file_name("src").join("main.go");
    if std::fs::read_to_string(&source).ok().as_deref() != Some(CRON_NEXT_MAIN) {
        std::fs::remove_dir_all(&bin).with_context(|| format!("removing the stale {}", bin.display()))?;
        bin = gobuild::ensure(&CRON_NEXT, &cache_dir())?;
    }
    eprintln!("cron_schedule: cron-next ready in {:.1?}", built.elapsed());
    Ok(bin.join(CRON_NEXT.binaries()[0]))
}

/// Runs `cron-next` with `input` on its stdin (through a file: the runner pipes only its output).
fn run(command: &mut Command, input: Option<&[u8]>) -> anyhow::Result<std::process::Output> {
    let path = std::env::temp_dir().join(format!("cron-next-{}.json", std::process::id()));
    match input {
        Some(input) => {
            std::fs::write(&path, input)?;
            command.stdin(std::fs::File::open(&path)?);
        }
        None => {
            command.stdin(Stdio::null());
        }
    }
    let output = output_within(command);
    let _ = std::fs::remove_file(&path);
    let output = output?;
    if !output.status.success() {
        bail!("{command:?} exited with {}: {}", output.status, text(&output.stderr));
    }
    Ok(output)
}

/// SplitMix64: a small generator whose sequence depends on nothing but the seed.
struct Rng(u64);

/// A field's values and names, for generating it.
struct Field {
    min: i64,
    max: i64,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field { min: 0, max: 59, names: &[] },
    Field { min: 0, max: 23, names: &[] },
    Field { min: 1, max: 31, names: &[] },
    Field {
        min: 1,
        max: 12,
        names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    },
    Field { min: 0, max: 6, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Mostly five valid fields; some descriptors, wrong field counts and values out of range.
    fn expression(&mut self) -> String {
        if self.chance(4) {
            return self
                .pick(&["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@reboot", "@Weekly"])
                .to_string();
        }
        let count = if self.chance(3) { *self.pick(&[4, 6]) } else { 5 };
        let fields: Vec<String> = (0..count).map(|i| self.field(&FIELDS[i % 5])).collect();
        fields.join(if self.chance(5) { "  " } else { " " })
    }

    fn field(&mut self, field: &Field) -> String {
        let items = *self.pick(&[1, 1, 1, 1, 1, 1, 1, 2, 2, 3]);
        (0..items).map(|_| self.item(field)).collect::<Vec<_>>().join(",")
    }

    fn item(&mut self, field: &Field) -> String {
        match self.below(18) {
            0..=3 => "*".into(),
            4 => "?".into(),
            5..=8 => self.value(field),
            9..=11 => self.range(field),
            12..=14 => format!("*/{}", self.step(field)),
            15 => format!("{}/{}", self.value(field), self.step(field)),
            16 => format!("{}/{}", self.range(field), self.step(field)),
            _ => format!("?/{}", self.step(field)),
        }
    }

    fn number(&mut self, field: &Field) -> i64 {
        if self.chance(95) {
            return field.min + self.below((field.max - field.min + 1) as u64) as i64;
        }
        let far = field.max + 2 + self.below(70) as i64;
        *self.pick(&[field.min - 1, field.max + 1, far])
    }

    fn name_or_number(&mut self, field: &Field, n: i64) -> String {
        match usize::try_from(n - field.min).ok().and_then(|i| field.names.get(i)) {
            Some(name) if self.chance(40) => match self.below(3) {
                0 => name.to_uppercase(),
                1 => name[..1].to_uppercase() + &name[1..],
                _ => name.to_string(),
            },
            _ => n.to_string(),
        }
    }

    fn value(&mut self, field: &Field) -> String {
        let n = self.number(field);
        self.name_or_number(field, n)
    }

    /// Mostly low to high; sometimes backwards.
    fn range(&mut self, field: &Field) -> String {
        let (a, b) = (self.number(field), self.number(field));
        let (low, high) = if self.chance(90) { (a.min(b), a.max(b)) } else { (a.max(b), a.min(b)) };
        format!("{}-{}", self.name_or_number(field, low), self.name_or_number(field, high))
    }

    fn step(&mut self, field: &Field) -> i64 {
        match self.below(20) {
            0 => 0,
            1 => field.max + 10,
            _ => 1 + self.below(field.max as u64) as i64,
        }
    }

    /// Anywhere in 2025-2030, or within two days before one of the zone's changes; sometimes
    /// with a fraction of a second.
    fn start(&mut self, zone: &TimeZone) -> anyhow::Result<Timestamp> {
        let base =
            "2025-01-01T00:00:00Z".parse::<Timestamp>()? + SignedDuration::from_hours(24 * self.below(6 * 365) as i64);
        let change = zone.following(base).next().map(|c| c.timestamp());
        let mut start = match change {
            Some(change) if self.chance(50) => change - SignedDuration::from_secs(self.below(48 * 3600) as i64),
            _ => base + SignedDuration::from_secs(self.below(24 * 3600) as i64),
        };
        if self.chance(25) {
            start += SignedDuration::from_nanos(self.below(1_000_000_000) as i64);
        }
        Ok(start)
    }
}
