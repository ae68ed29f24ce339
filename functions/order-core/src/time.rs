//! Timestamps and dates without a date crate: RFC 3339 in UTC with milliseconds
//! (`2026-11-23T04:05:06.789Z`, the form stored in the tables, whose text order is time order)
//! and calendar dates (`2026-11-23`). The calendar is the proleptic Gregorian one, years 0000
//! to 9999; days are converted with Howard Hinnant's `days_from_civil` / `civil_from_days`.
//! No leap seconds (as in Unix time). "Now" is always the caller's.

use std::fmt;

/// Milliseconds in a day.
pub const MILLIS_PER_DAY: i64 = 86_400_000;

/// Why a text or number is not a date or time we accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("must be a date such as 2026-11-23")]
    BadDate,
    #[error("must be a timestamp such as 2026-11-23T04:05:06.789Z")]
    BadTimestamp,
    #[error("must be between the years 0000 and 9999")]
    OutOfRange,
}

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }
}

/// A calendar date between 0000-01-01 and 9999-12-31.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// Days from 1970-01-01 to 0000-01-01 and to 9999-12-31.
const MIN_DAYS: i64 = -719_528;
const MAX_DAYS: i64 = 2_932_896;

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A date, if it exists (`2025-02-29` does not).
    pub fn new(year: i32, month: u8, day: u8) -> Result<Date, TimeError> {
        if !(0..=9999).contains(&year) {
            return Err(TimeError::OutOfRange);
        }
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(TimeError::BadDate);
        }
        Ok(Date { year, month, day })
    }

    pub fn year(self) -> i32 {
        self.year
    }
    pub fn month(self) -> u8 {
        self.month
    }
    pub fn day(self) -> u8 {
        self.day
    }

    /// Parses exactly `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Date, TimeError> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(TimeError::BadDate);
        }
        let year = digits(&b[0..4]).ok_or(TimeError::BadDate)?;
        let month = digits(&b[5..7]).ok_or(TimeError::BadDate)?;
        let day = digits(&b[8..10]).ok_or(TimeError::BadDate)?;
        Date::new(year as i32, month as u8, day as u8)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = (m + 9) % 12; // March = 0
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Result<Date, TimeError> {
        if !(MIN_DAYS..=MAX_DAYS).contains(&days) {
            return Err(TimeError::OutOfRange);
        }
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        // In range by the check above, so these conversions are exact.
        Ok(Date {
            year: year as i32,
            month: month as u8,
            day: day as u8,
        })
    }

    /// The UTC date of an instant.
    pub fn from_epoch_millis(ms: i64) -> Result<Date, TimeError> {
        Date::from_days_since_epoch(ms.div_euclid(MILLIS_PER_DAY))
    }

    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday.
        match (self.days_since_epoch() + 3).rem_euclid(7) {
            0 => Weekday::Monday,
            1 => Weekday::Tuesday,
            2 => Weekday::Wednesday,
            3 => Weekday::Thursday,
            4 => Weekday::Friday,
            5 => Weekday::Saturday,
            _ => Weekday::Sunday,
        }
    }

    pub fn add_days(self, days: i64) -> Result<Date, TimeError> {
        let target = self
            .days_since_epoch()
            .checked_add(days)
            .ok_or(TimeError::OutOfRange)?;
        Date::from_days_since_epoch(target)
    }

    /// The day `n` business days (Monday to Friday; public holidays are not known) after this
    /// one: Friday + 1 is Monday, and Saturday + 1 and Sunday + 1 are Monday too. `n = 0` is
    /// the day itself.
    pub fn add_business_days(self, n: u32) -> Result<Date, TimeError> {
        if n == 0 {
            return Ok(self);
        }
        // Counting from a weekend day is counting from the Friday before it.
        let start = match self.weekday() {
            Weekday::Saturday => self.add_days(-1)?,
            Weekday::Sunday => self.add_days(-2)?,
            _ => self,
        };
        // From a weekday, five business days are exactly one week.
        let mut date = start.add_days(i64::from(n / 5) * 7)?;
        for _ in 0..n % 5 {
            date = date.add_days(1)?;
            while date.weekday().is_weekend() {
                date = date.add_days(1)?;
            }
        }
        Ok(date)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The digits of `b` as a number, if they are all ASCII digits.
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// `2026-11-23T04:05:06.789Z` from milliseconds since 1970-01-01T00:00:00Z.
pub fn format_timestamp(epoch_ms: i64) -> Result<String, TimeError> {
    let date = Date::from_epoch_millis(epoch_ms)?;
    let ms_of_day = epoch_ms.rem_euclid(MILLIS_PER_DAY);
    let (h, m, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    Ok(format!("{date}T{h:02}:{m:02}:{s:02}.{ms:03}Z"))
}

/// Milliseconds since the epoch from an RFC 3339 timestamp: `YYYY-MM-DDTHH:MM:SS`, an optional
/// fraction of 1 to 9 digits (cut to milliseconds) and `Z` or an offset `±HH:MM`. `t` and `z`
/// may be lower case. Leap seconds (`:60`) are refused.
pub fn parse_timestamp(s: &str) -> Result<i64, TimeError> {
    let bad = TimeError::BadTimestamp;
    if !s.is_ascii() || s.len() < 20 {
        return Err(bad);
    }
    let b = s.as_bytes();
    let date = Date::parse(&s[..10]).map_err(|e| match e {
        TimeError::OutOfRange => e,
        _ => TimeError::BadTimestamp,
    })?;
    if !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return Err(bad);
    }
    let field = |r: std::ops::Range<usize>, max: u32| digits(&b[r]).filter(|v| *v <= max).map(i64::from);
    let (h, m, sec) = (
        field(11..13, 23).ok_or(bad.clone())?,
        field(14..16, 59).ok_or(bad.clone())?,
        field(17..19, 59).ok_or(bad.clone())?,
    );
    let mut rest = &b[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return Err(bad);
        }
        let first3: Vec<u8> = fraction[..n.min(3)].to_vec();
        let padded = [first3, vec![b'0'; 3 - n.min(3)]].concat();
        millis = i64::from(digits(&padded).ok_or(bad.clone())?);
        rest = &fraction[n..];
    }
    let offset_minutes = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = digits(&[*h1, *h2]).filter(|v| *v <= 23).ok_or(bad.clone())?;
            let om = digits(&[*m1, *m2]).filter(|v| *v <= 59).ok_or(bad.clone())?;
            let minutes = i64::from(oh * 60 + om);
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return Err(bad),
    };
    let local = date.days_since_epoch() * MILLIS_PER_DAY + ((h * 60 + m) * 60 + sec) * 1000 + millis;
    let utc = local - offset_minutes * 60_000;
    // The instant must itself be a date we can write back.
    Date::from_epoch_millis(utc)?;
    Ok(utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(Date::new(2000, 3, 1).unwrap().days_since_epoch(), 11_017);
        assert_eq!(Date::new(1969, 12, 31).unwrap().days_since_epoch(), -1);
        assert_eq!(Date::new(0, 1, 1).unwrap().days_since_epoch(), MIN_DAYS);
        assert_eq!(Date::new(9999, 12, 31).unwrap().days_since_epoch(), MAX_DAYS);
        assert_eq!(
            Date::from_days_since_epoch(20_415).unwrap().to_string(),
            "2025-11-23"
        );
        assert_eq!(Date::new(2026, 11, 23).unwrap().weekday(), Weekday::Monday);
        assert_eq!(Date::new(1970, 1, 1).unwrap().weekday(), Weekday::Thursday);
        assert_eq!(Date::new(2000, 2, 29).unwrap().weekday(), Weekday::Tuesday);
    }

    #[test]
    fn every_day_round_trips_and_follows_the_previous() {
        let mut previous: Option<Date> = None;
        for days in MIN_DAYS..=MAX_DAYS {
            let d = Date::from_days_since_epoch(days).unwrap();
            assert_eq!(d.days_since_epoch(), days);
            assert_eq!(Date::new(d.year, d.month, d.day), Ok(d));
            if let Some(p) = previous {
                let next_expected = if p.day < days_in_month(p.year, p.month) {
                    (p.year, p.month, p.day + 1)
                } else if p.month < 12 {
                    (p.year, p.month + 1, 1)
                } else {
                    (p.year + 1, 1, 1)
                };
                assert_eq!((d.year, d.month, d.day), next_expected);
            }
            previous = Some(d);
        }
        assert_eq!(
            Date::from_days_since_epoch(MIN_DAYS - 1),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(
            Date::from_days_since_epoch(MAX_DAYS + 1),
            Err(TimeError::OutOfRange)
        );
    }

    #[test]
    fn leap_years() {
        assert!(Date::new(2024, 2, 29).is_ok());
        assert!(Date::new(2000, 2, 29).is_ok());
        assert_eq!(Date::new(1900, 2, 29), Err(TimeError::BadDate));
        assert_eq!(Date::new(2025, 2, 29), Err(TimeError::BadDate));
        assert_eq!(Date::new(2025, 4, 31), Err(TimeError::BadDate));
        assert_eq!(Date::new(2025, 13, 1), Err(TimeError::BadDate));
        assert_eq!(Date::new(2025, 1, 0), Err(TimeError::BadDate));
        assert_eq!(Date::new(10_000, 1, 1), Err(TimeError::OutOfRange));
    }

    #[test]
    fn parse_and_display_dates() {
        assert_eq!(
            Date::parse("2026-11-23").unwrap(),
            Date::new(2026, 11, 23).unwrap()
        );
        assert_eq!(Date::parse("0000-01-01").unwrap().to_string(), "0000-01-01");
        for bad in [
            "2026-1-23",
            "2026/11/23",
            "2026-11-23T",
            "20261123",
            "2026-11-3x",
            "+026-11-23",
            "2026-02-30",
            "",
        ] {
            assert_eq!(Date::parse(bad), Err(TimeError::BadDate), "{bad}");
        }
    }

    #[test]
    fn business_days_skip_weekends() {
        let d = |s: &str| Date::parse(s).unwrap();
        // 2026-11-20 is a Friday.
        assert_eq!(d("2026-11-20").weekday(), Weekday::Friday);
        let cases = [
            ("2026-11-20", 0, "2026-11-20"),
            ("2026-11-20", 1, "2026-11-23"),
            ("2026-11-21", 1, "2026-11-23"),
            ("2026-11-22", 1, "2026-11-23"),
            ("2026-11-21", 0, "2026-11-21"),
            ("2026-11-23", 5, "2026-11-30"),
            ("2026-11-18", 2, "2026-11-20"),
            ("2026-11-18", 3, "2026-11-23"),
            ("2026-12-30", 3, "2027-01-04"),
            ("2024-02-27", 3, "2024-03-01"),
        ];
        for (from, n, to) in cases {
            assert_eq!(
                d(from).add_business_days(n).unwrap().to_string(),
                to,
                "{from} + {n}"
            );
        }
    }

    #[test]
    fn business_days_agree_with_counting_one_by_one() {
        let start = Date::parse("2026-01-01").unwrap();
        for offset in 0..21 {
            let from = start.add_days(offset).unwrap();
            let mut naive = from;
            for n in 0..40u32 {
                assert_eq!(from.add_business_days(n).unwrap(), naive, "{from} + {n}");
                assert!(!naive.weekday().is_weekend() || n == 0);
                naive = naive.add_days(1).unwrap();
                while naive.weekday().is_weekend() {
                    naive = naive.add_days(1).unwrap();
                }
            }
        }
        assert_eq!(
            Date::parse("9999-12-31").unwrap().add_business_days(1),
            Err(TimeError::OutOfRange)
        );
    }

    #[test]
    fn timestamps_format() {
        assert_eq!(format_timestamp(0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_timestamp(1_795_406_706_789).unwrap(),
            "2026-11-23T04:05:06.789Z"
        );
        assert_eq!(format_timestamp(-1).unwrap(), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_timestamp(951_782_400_000).unwrap(),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(format_timestamp(i64::MAX), Err(TimeError::OutOfRange));
        assert_eq!(format_timestamp(i64::MIN), Err(TimeError::OutOfRange));
    }

    #[test]
    fn timestamps_parse() {
        let ms = 1_795_406_706_789;
        for s in [
            "2026-11-23T04:05:06.789Z",
            "2026-11-23t04:05:06.789z",
            "2026-11-23T04:05:06.789999999Z",
            "2026-11-23T06:05:06.789+02:00",
            "2026-11-22T23:35:06.789-04:30",
        ] {
            assert_eq!(parse_timestamp(s), Ok(ms), "{s}");
        }
        assert_eq!(parse_timestamp("2026-11-23T04:05:06Z"), Ok(ms - 789));
        assert_eq!(parse_timestamp("2026-11-23T04:05:06.7Z"), Ok(ms - 89));
        for bad in [
            "2026-11-23 04:05:06Z",
            "2026-11-23T04:05:06",
            "2026-11-23T24:00:00Z",
            "2026-11-23T04:60:00Z",
            "2026-12-31T23:59:60Z",
            "2026-11-23T04:05:06.Z",
            "2026-11-23T04:05:06.1234567890Z",
            "2026-11-23T04:05:06+0200",
            "2026-11-23T04:05:06+24:00",
            "2026-02-30T04:05:06Z",
            "2026-11-23T04:05:06.789Zjunk",
            "２026-11-23T04:05:06Z",
            "",
        ] {
            assert_eq!(parse_timestamp(bad), Err(TimeError::BadTimestamp), "{bad}");
        }
        assert_eq!(
            parse_timestamp("0000-01-01T00:00:00+00:01"),
            Err(TimeError::OutOfRange)
        );
    }

    #[test]
    fn timestamps_round_trip_and_sort_as_text() {
        let mut x: i64 = 0x9E37_79B9;
        let mut previous: Option<(i64, String)> = None;
        for _ in 0..2000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let ms = x.rem_euclid(253_402_300_800_000); // 1970 .. 9999
            let text = format_timestamp(ms).unwrap();
            assert_eq!(text.len(), 24);
            assert_eq!(parse_timestamp(&text), Ok(ms), "{text}");
            if let Some((pms, ptext)) = &previous {
                assert_eq!(pms.cmp(&ms), ptext.cmp(&text), "{ptext} vs {text}");
            }
            previous = Some((ms, text));
        }
    }
}
