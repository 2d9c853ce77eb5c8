//! When update checks run: the admin's schedule (an interval, a cron expression, or off),
//! a stable per-install offset so installs do not all call the api host at once, and the
//! backoff after a failed check. Pure: times are Unix seconds, UTC.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The schedule an install starts with.
pub const DEFAULT_SCHEDULE: &str = "every 1h";
/// The shortest interval accepted: checks are cheap, but the api host is shared.
pub const MIN_INTERVAL_SECS: u64 = 5 * 60;
/// The longest interval accepted.
pub const MAX_INTERVAL_SECS: u64 = 7 * 86_400;
/// A cron schedule's runs are spread over this much after each cron time.
pub const CRON_SPREAD_SECS: u64 = 5 * 60;
/// The first retry after a failure waits this long; each further one twice as long.
pub const FIRST_RETRY_SECS: u64 = 60;
/// Retries never wait longer than this (nor longer than the schedule's interval).
pub const MAX_RETRY_SECS: u64 = 3600;

/// How often checks run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Only when an admin asks.
    Off,
    /// Every `secs` seconds, at times offset per install.
    Every { secs: u64 },
    /// At the times of a five-field cron expression (UTC), spread per install.
    Cron(Cron),
}

impl FromStr for Schedule {
    type Err = String;

    /// `off`, `every 1h` (a number and s, m, h or d), or `cron MIN HOUR DOM MON DOW`.
    fn from_str(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        if text == "off" {
            return Ok(Schedule::Off);
        }
        if let Some(duration) = text.strip_prefix("every ") {
            let secs = parse_duration(duration.trim())?;
            if !(MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&secs) {
                return Err(format!(
                    "the interval must be between {} minutes and {} days",
                    MIN_INTERVAL_SECS / 60,
                    MAX_INTERVAL_SECS / 86_400
                ));
            }
            return Ok(Schedule::Every { secs });
        }
        if let Some(expression) = text.strip_prefix("cron ") {
            return Ok(Schedule::Cron(expression.parse()?));
        }
        Err(format!(
            "{text:?} is not a schedule: use `off`, `every 1h` (s, m, h or d), or `cron 0 * * * *` (minute hour day month weekday, UTC)"
        ))
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Off => f.write_str("off"),
            Schedule::Every { secs } => write!(f, "every {}", duration_text(*secs)),
            Schedule::Cron(cron) => write!(f, "cron {}", cron.text),
        }
    }
}

impl Schedule {
    /// The schedule in words for the UI and the CLI.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Off => "automatic checks are off; check now from the console".into(),
            Schedule::Every { secs } => format!("every {}", duration_text(*secs)),
            Schedule::Cron(cron) => format!("at the times of `{}` (UTC)", cron.text),
        }
    }

    /// This install's offset: stable (from the instance id) and below the interval, or
    /// below [`CRON_SPREAD_SECS`] for cron.
    pub fn offset(&self, instance_id: &str) -> u64 {
        let span = match self {
            Schedule::Off => return 0,
            Schedule::Every { secs } => *secs,
            Schedule::Cron(_) => CRON_SPREAD_SECS,
        };
        let digest = Sha256::digest(instance_id.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % span
    }

    /// The first scheduled time strictly after `after`, or `None` when off.
    pub fn next_after(&self, after: i64, instance_id: &str) -> Option<i64> {
        let offset = self.offset(instance_id) as i64;
        match self {
            Schedule::Off => None,
            Schedule::Every { secs } => {
                let secs = *secs as i64;
                // Slots are k * secs + offset; the next one after `after`.
                let k = (after - offset).div_euclid(secs) + 1;
                Some(k * secs + offset)
            }
            Schedule::Cron(cron) => {
                // A cron time t runs at t + offset; find the first t with t + offset > after.
                cron.next_after(after - offset).map(|t| t + offset)
            }
        }
    }

    /// The longest wait between two checks, which caps the retry backoff.
    fn longest_gap(&self) -> u64 {
        match self {
            Schedule::Every { secs } => *secs,
            Schedule::Off | Schedule::Cron(_) => MAX_RETRY_SECS,
        }
    }
}

/// When to retry after `failures` checks in a row failed, the last at `failed_at`:
/// 1 min, 2 min, 4 min ... capped at an hour and at the schedule's interval. A schedule
/// that is off retries nothing by itself.
pub fn retry_at(schedule: &Schedule, failed_at: i64, failures: u32) -> Option<i64> {
    if *schedule == Schedule::Off || failures == 0 {
        return None;
    }
    let doubled = FIRST_RETRY_SECS.saturating_mul(1u64 << (failures - 1).min(20));
    let wait = doubled.min(MAX_RETRY_SECS).min(schedule.longest_gap());
    Some(failed_at + wait as i64)
}

/// `90s`, `30m`, `1h`, `2d` in seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a duration such as 30m, 1h or 1d");
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    number.checked_mul(unit).ok_or_else(bad)
}

/// The shortest way to write `secs` with one unit.
fn duration_text(secs: u64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// A five-field cron expression in UTC: minute, hour, day of month, month, day of week
/// (0 or 7 is Sunday). Each field is `*`, a number, a range `a-b`, a step `*/n` or
/// `a-b/n`, or a list of those. As in cron, when both day fields are restricted a day
/// matches either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_restricted: bool,
    weekdays_restricted: bool,
}

/// How far ahead a cron time is searched for: some expressions (30 February) never match.
const CRON_SEARCH_DAYS: i64 = 366 * 5;

impl FromStr for Cron {
    type Err = String;

    fn from_str(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(format!(
                "{text:?} needs five fields: minute hour day-of-month month day-of-week"
            ));
        };
        let field = |text: &str, name: &str, low: u32, high: u32| {
            parse_field(text, low, high).map_err(|e| format!("cron {name} field {text:?}: {e}"))
        };
        let mut weekdays = field(weekday, "day-of-week", 0, 7)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1; // 7 is Sunday, as 0 is.
        }
        let cron = Cron {
            text: fields.join(" "),
            minutes: field(minute, "minute", 0, 59)?,
            hours: field(hour, "hour", 0, 23)? as u32,
            days: field(day, "day-of-month", 1, 31)? as u32,
            months: field(month, "month", 1, 12)? as u16,
            weekdays: (weekdays & 0x7f) as u8,
            days_restricted: day != "*",
            weekdays_restricted: weekday != "*",
        };
        if cron.next_after(0).is_none() {
            return Err(format!("cron {text:?} never matches a date"));
        }
        Ok(cron)
    }
}

impl Cron {
    /// The first matching minute strictly after `after` (Unix seconds).
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let start = (after.div_euclid(60) + 1) * 60;
        let first_day = start.div_euclid(86_400);
        for day in first_day..first_day + CRON_SEARCH_DAYS {
            if !self.day_matches(day) {
                continue;
            }
            let day_start = day * 86_400;
            for hour in 0..24 {
                if self.hours & (1 << hour) == 0 {
                    continue;
                }
                for minute in 0..60 {
                    let at = day_start + hour * 3600 + minute * 60;
                    if at >= start && self.minutes & (1 << minute) != 0 {
                        return Some(at);
                    }
                }
            }
        }
        None
    }

    fn day_matches(&self, day: i64) -> bool {
        let Ok(date) = time::OffsetDateTime::from_unix_timestamp(day * 86_400) else {
            return false;
        };
        if self.months & (1 << u8::from(date.month())) == 0 {
            return false;
        }
        let in_month = self.days & (1 << date.day()) != 0;
        let in_week = self.weekdays & (1 << date.weekday().number_days_from_sunday()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => in_month || in_week,
            _ => in_month && in_week,
        }
    }
}

/// A cron field as a bit set of the values it allows.
fn parse_field(text: &str, low: u32, high: u32) -> Result<u64, String> {
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("{step:?} is not a step"))?;
                if step == 0 {
                    return Err("a step must be at least 1".into());
                }
                (range, step)
            }
            None => (part, 1),
        };
        let number = |text: &str| -> Result<u32, String> {
            let n: u32 = text
                .parse()
                .map_err(|_| format!("{text:?} is not a number"))?;
            if (low..=high).contains(&n) {
                Ok(n)
            } else {
                Err(format!("{n} is outside {low}-{high}"))
            }
        };
        let (first, last) = if range == "*" {
            (low, high)
        } else if let Some((a, b)) = range.split_once('-') {
            (number(a)?, number(b)?)
        } else {
            let n = number(range)?;
            (n, if part.contains('/') { high } else { n })
        };
        if first > last {
            return Err(format!("{range:?} goes from high to low"));
        }
        for value in (first..=last).step_by(step as usize) {
            set |= 1 << value;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTANCE: &str = "0123456789abcdef0123456789abcdef";
    // 2026-11-24 00:00:00 UTC, a Tuesday.
    const DAY: i64 = 1_795_478_400;

    fn schedule(text: &str) -> Schedule {
        text.parse().unwrap()
    }

    #[test]
    fn schedules_parse_and_print_back() {
        assert_eq!(schedule("off"), Schedule::Off);
        assert_eq!(schedule("every 1h"), Schedule::Every { secs: 3600 });
        assert_eq!(schedule(" every 90m ").to_string(), "every 90m");
        assert_eq!(schedule("every 3600s").to_string(), "every 1h");
        assert_eq!(
            schedule("cron  0  */6 * * 1-5").to_string(),
            "cron 0 */6 * * 1-5"
        );
        for bad in [
            "",
            "hourly",
            "every",
            "every 1w",
            "every 1m",
            "every 8d",
            "every 99999999999999999999d",
            "cron * * *",
            "cron 60 * * * *",
            "cron 5-1 * * * *",
            "cron */0 * * * *",
            "cron 0 0 30 2 *",
        ] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn interval_slots_are_offset_per_install_and_stable() {
        let hourly = schedule("every 1h");
        let offset = hourly.offset(INSTANCE) as i64;
        assert!(offset < 3600);
        assert_eq!(hourly.offset(INSTANCE) as i64, offset, "stable");
        assert_ne!(
            hourly.offset(INSTANCE),
            hourly.offset("another-install"),
            "two installs get different offsets"
        );
        let next = hourly.next_after(DAY, INSTANCE).unwrap();
        assert_eq!((next - offset) % 3600, 0);
        assert!(next > DAY && next <= DAY + 3600);
        // Strictly after: a check at a slot time waits for the next slot.
        assert_eq!(hourly.next_after(next, INSTANCE), Some(next + 3600));
        assert_eq!(schedule("off").next_after(DAY, INSTANCE), None);
    }

    #[test]
    fn offsets_spread_installs_over_the_interval() {
        let hourly = schedule("every 1h");
        let mut quarters = [0; 4];
        for n in 0..400 {
            quarters[(hourly.offset(&format!("install-{n}")) / 900) as usize] += 1;
        }
        assert!(quarters.iter().all(|&q| q > 60), "{quarters:?}");
    }

    #[test]
    fn cron_times_match_their_fields() {
        let cron: Cron = "30 2 * * *".parse().unwrap();
        assert_eq!(cron.next_after(DAY), Some(DAY + 2 * 3600 + 1800));
        assert_eq!(
            cron.next_after(DAY + 2 * 3600 + 1800),
            Some(DAY + 86_400 + 2 * 3600 + 1800)
        );
        // Every 15 minutes on weekdays: Saturday 2026-11-28 is skipped to Monday.
        let weekdays: Cron = "*/15 * * * 1-5".parse().unwrap();
        let friday_late = DAY + 3 * 86_400 + 23 * 3600 + 50 * 60;
        assert_eq!(weekdays.next_after(friday_late), Some(DAY + 6 * 86_400));
        // Sunday as 7.
        let sunday: Cron = "0 0 * * 7".parse().unwrap();
        assert_eq!(sunday.next_after(DAY), Some(DAY + 5 * 86_400));
        // Both day fields restricted: either matches (the 1st, or any Sunday).
        let either: Cron = "0 0 1 * 0".parse().unwrap();
        assert_eq!(either.next_after(DAY), Some(DAY + 5 * 86_400));
        // A cron schedule is spread by the install's offset, within five minutes.
        let spread = schedule("cron 0 3 * * *");
        let offset = spread.offset(INSTANCE) as i64;
        assert!(offset < CRON_SPREAD_SECS as i64);
        assert_eq!(
            spread.next_after(DAY, INSTANCE),
            Some(DAY + 3 * 3600 + offset)
        );
    }

    #[test]
    fn retries_back_off_to_the_cap() {
        let hourly = schedule("every 1h");
        let waits: Vec<i64> = (1..=9)
            .map(|n| retry_at(&hourly, DAY, n).unwrap() - DAY)
            .collect();
        assert_eq!(waits, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        let short = schedule("every 10m");
        assert_eq!(retry_at(&short, DAY, 30), Some(DAY + 600));
        assert_eq!(retry_at(&hourly, DAY, 0), None);
        assert_eq!(retry_at(&schedule("off"), DAY, 3), None);
    }
}
