//! UTC timestamps as text, without a calendar crate: milliseconds since the Unix epoch to
//! ISO 8601 (`2026-11-29T21:04:05.123Z`).

/// (year, month, day) of a day number since 1970-01-01 (Howard Hinnant's civil-from-days).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Day number since 1970-01-01 of a civil date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `…:SS`, `…:SS.fff`, each with an optional `Z`
/// (always UTC), into milliseconds since the Unix epoch.
pub fn parse_iso8601_utc(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, ""));
    let mut d = date.split('-');
    let (y, m, day) = (
        d.next()?.parse::<i64>().ok()?,
        d.next()?.parse::<u32>().ok()?,
        d.next()?.parse::<u32>().ok()?,
    );
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(y, m, day);
    if civil_from_days(days) != (y, m, day) {
        return None; // 2026-02-30
    }
    let mut ms = 0i64;
    if !time.is_empty() {
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let parts: Vec<&str> = hms.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        let n = |i: usize, max: i64| {
            parts.get(i).map_or(Some(0), |p| {
                p.parse::<i64>().ok().filter(|v| (0..max).contains(v))
            })
        };
        ms = (n(0, 24)? * 3600 + n(1, 60)? * 60 + n(2, 60)?) * 1000;
        if !frac.is_empty() {
            let f: String = frac.chars().chain("000".chars()).take(3).collect();
            ms += f.parse::<i64>().ok()?;
        }
    }
    Some(days * 86_400_000 + ms)
}

/// A duration for people, rounded up: "45 s", "12 min", "3 h", "74 days" (seconds below two
/// minutes, minutes below two hours, hours below two days).
pub fn human_duration(ms: i64) -> String {
    let up = |n: i64, unit: i64| (n + unit - 1) / unit;
    let s = up(ms.max(0), 1000).max(1);
    match s {
        ..120 => format!("{s} s"),
        120..7200 => format!("{} min", up(s, 60)),
        7200..172_800 => format!("{} h", up(s, 3600)),
        _ => format!("{} days", up(s, 86_400)),
    }
}

/// ISO 8601 UTC with milliseconds.
pub fn iso8601_utc(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let s = rem / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60,
        rem % 1000
    )
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
}
