//! Times as text and a ward's local time, by the `jiff` calendar and time-zone library. Its
//! copy of the IANA time-zone database is built into the binary, so a server whose host has
//! no `/usr/share/zoneinfo` (a slim container) still knows every zone and its daylight-saving
//! rules.

use jiff::tz::{Offset, TimeZone};
use jiff::{civil, Timestamp};
use std::fmt;

/// This host's clock, in milliseconds since the Unix epoch (UTC).
pub fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `…:SS`, `…:SS.fff` (`T` or a space between), each
/// with an optional `Z` (always UTC), into milliseconds since the Unix epoch.
pub fn parse_iso8601_utc(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let dt: civil::DateTime = s.parse().ok()?;
    dt.to_zoned(TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// A duration for people, rounded up: "45 s", "12 min", "3 h", "74 days" (seconds below two
/// minutes, minutes below two hours, hours below two days).
pub fn human_duration(ms: i64) -> String {
    duration_words(ms).to_string()
}

/// [`human_duration`] as words, for a reader in any language.
pub fn duration_words(ms: i64) -> crate::Words {
    let up = |n: i64, unit: i64| (n + unit - 1) / unit;
    let s = up(ms.max(0), 1000).max(1);
    let (words, n) = match s {
        ..120 => (crate::Words::new("{n} s"), s),
        120..7200 => (crate::Words::new("{n} min"), up(s, 60)),
        7200..172_800 => (crate::Words::new("{n} h"), up(s, 3600)),
        _ => (crate::Words::new("{n} days"), up(s, 86_400)),
    };
    words.with("n", n)
}

/// ISO 8601 UTC with milliseconds (`2026-11-29T21:04:05.123Z`); a time outside the years
/// −9999 to 9999 is written as its milliseconds.
pub fn iso8601_utc(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => format!("{ms} ms since 1970-01-01 UTC"),
    }
}

/// A ward's clock: an IANA time zone (`Europe/Berlin`, which follows daylight-saving time) or
/// a fixed offset from UTC.
#[derive(Clone, PartialEq)]
pub struct WardZone {
    name: String,
    tz: TimeZone,
}

/// A time-zone name the built-in IANA database does not know, or an offset beyond ±14 h.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct UnknownZone(pub crate::Words);

impl WardZone {
    /// Coordinated Universal Time.
    pub fn utc() -> WardZone {
        WardZone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    /// An IANA zone by name (`Europe/Berlin`, `America/New_York`).
    pub fn named(name: &str) -> Result<WardZone, UnknownZone> {
        let tz = TimeZone::get(name).map_err(|_| {
            UnknownZone(
                crate::Words::new(
                    "'{name}' is not a time zone of the IANA database (like Europe/Berlin)",
                )
                .with("name", name),
            )
        })?;
        Ok(WardZone {
            name: name.to_string(),
            tz,
        })
    }

    /// A fixed offset from UTC in minutes, within ±14 h (no daylight-saving changes).
    pub fn fixed(offset_minutes: i64) -> Result<WardZone, UnknownZone> {
        let bad = || {
            UnknownZone(
                crate::Words::new("{value} is not in [-840, 840] (UTC-14 to UTC+14)")
                    .with("value", offset_minutes),
            )
        };
        if !(-14 * 60..=14 * 60).contains(&offset_minutes) {
            return Err(bad());
        }
        let offset = Offset::from_seconds((offset_minutes * 60) as i32).map_err(|_| bad())?;
        Ok(WardZone {
            name: offset.to_string(),
            tz: TimeZone::fixed(offset),
        })
    }

    /// The zone's name (`Europe/Berlin`) or offset (`+01:00`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local minute of the day (0–1439) at `ms` since the epoch.
    pub fn minute_of_day(&self, ms: i64) -> i64 {
        match Timestamp::from_millisecond(ms) {
            Ok(t) => {
                let local = t.to_zoned(self.tz.clone());
                i64::from(local.hour()) * 60 + i64::from(local.minute())
            }
            Err(_) => (ms / 60_000).rem_euclid(24 * 60),
        }
    }
}

/// A calendar day on a ward's clock: its date and where it starts and ends in UTC (23 or 25
/// hours long on the days the clocks change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl WardZone {
    /// The local day that contains `ms` (`None` for a time outside jiff's range of years).
    pub fn day_of(&self, ms: i64) -> Option<LocalDay> {
        let local = Timestamp::from_millisecond(ms)
            .ok()?
            .to_zoned(self.tz.clone());
        let date = local.date();
        let start = date.to_zoned(self.tz.clone()).ok()?;
        let end = date.tomorrow().ok()?.to_zoned(self.tz.clone()).ok()?;
        Some(LocalDay {
            date: date.to_string(),
            start_ms: start.timestamp().as_millisecond(),
            end_ms: end.timestamp().as_millisecond(),
        })
    }

    /// The last `n` local days up to and including the one that contains `ms`, oldest first.
    pub fn days_until(&self, ms: i64, n: usize) -> Vec<LocalDay> {
        let mut days = Vec::with_capacity(n);
        let mut at = ms;
        while days.len() < n {
            let Some(d) = self.day_of(at) else { break };
            at = d.start_ms - 1;
            days.push(d);
        }
        days.reverse();
        days
    }
}

impl fmt::Debug for WardZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WardZone({})", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        for (ms, want) in [
            (0, "1 s"),
            (2_500, "3 s"),
            (119_000, "119 s"),
            (120_000, "2 min"),
            (15 * 60_000, "15 min"),
            (3 * 3_600_000, "3 h"),
            (74 * 86_400_000, "74 days"),
        ] {
            assert_eq!(human_duration(ms), want, "{ms}");
        }
    }

    #[test]
    fn known_dates() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_796_000_645_123, "2026-11-30T01:04:05.123Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ];
        for (ms, want) in cases {
            assert_eq!(iso8601_utc(ms), want, "{ms}");
            assert_eq!(parse_iso8601_utc(want), Some(ms), "{want}");
        }
        assert!(iso8601_utc(i64::MAX).contains("ms since 1970"));
    }

    #[test]
    fn parses_dates_and_times_and_refuses_nonsense() {
        let cases = [
            ("2026-11-30", Some(1_795_996_800_000)),
            (
                "2026-11-30T08:15",
                Some(1_795_996_800_000 + (8 * 60 + 15) * 60_000),
            ),
            (
                "2026-11-30 08:15",
                Some(1_795_996_800_000 + (8 * 60 + 15) * 60_000),
            ),
            (
                "2026-11-30T08:15:30Z",
                Some(1_795_996_800_000 + ((8 * 60 + 15) * 60 + 30) * 1000),
            ),
            ("2026-02-30", None),
            ("2026-13-01", None),
            ("2026-11-30T25:00", None),
            ("yesterday", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_iso8601_utc(text), want, "{text}");
        }
    }

    #[test]
    fn a_named_zone_follows_daylight_saving_time_and_a_fixed_one_does_not() {
        let berlin = WardZone::named("Europe/Berlin").unwrap();
        let at = |s: &str| parse_iso8601_utc(s).unwrap();
        // Winter: UTC+1. Summer (from 2026-03-29 01:00 UTC): UTC+2. Winter again from
        // 2026-10-25 01:00 UTC.
        assert_eq!(berlin.minute_of_day(at("2026-03-29T00:30")), 90); // 01:30 CET
        assert_eq!(berlin.minute_of_day(at("2026-03-29T01:30")), 3 * 60 + 30); // 03:30 CEST
        assert_eq!(berlin.minute_of_day(at("2026-10-25T00:30")), 2 * 60 + 30); // 02:30 CEST
        assert_eq!(berlin.minute_of_day(at("2026-10-25T01:30")), 2 * 60 + 30); // 02:30 CET
        let fixed = WardZone::fixed(60).unwrap();
        assert_eq!(fixed.minute_of_day(at("2026-03-29T01:30")), 2 * 60 + 30);
        assert_eq!(fixed.name(), "+01");
        assert!(WardZone::named("Mars/Olympus").is_err());
        assert!(WardZone::fixed(15 * 60).is_err());
        assert_eq!(WardZone::utc().minute_of_day(at("2026-11-30T23:59")), 1439);
    }

    #[test]
    fn local_days_follow_the_wards_calendar_across_a_clock_change() {
        let berlin = WardZone::named("Europe/Berlin").unwrap();
        let at = |s: &str| parse_iso8601_utc(s).unwrap();
        // 23:30 UTC on the 28th is already the 29th in Berlin, the day the clocks go forward.
        let d = berlin.day_of(at("2026-03-28T23:30")).unwrap();
        assert_eq!(d.date, "2026-03-29");
        assert_eq!(d.start_ms, at("2026-03-28T23:00"));
        assert_eq!(d.end_ms - d.start_ms, 23 * 3_600_000);
        let days = berlin.days_until(at("2026-03-30T12:00"), 3);
        let dates: Vec<&str> = days.iter().map(|d| d.date.as_str()).collect();
        assert_eq!(dates, ["2026-03-28", "2026-03-29", "2026-03-30"]);
        assert!(days.windows(2).all(|w| w[0].end_ms == w[1].start_ms));
        let utc = WardZone::utc().day_of(at("2026-11-30T08:00")).unwrap();
        assert_eq!(
            (utc.date.as_str(), utc.end_ms - utc.start_ms),
            ("2026-11-30", 86_400_000)
        );
    }
}
