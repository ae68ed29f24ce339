//! Timestamps and dates, on `chrono`: RFC 3339 in UTC with milliseconds
//! (`2026-11-23T04:05:06.789Z`, the form stored in the tables, whose text order is time order)
//! and calendar dates (`2026-11-23`), in the proleptic Gregorian calendar, years 0000 to 9999
//! (four digits, so that text order stays time order). No leap seconds (as in Unix time). "Now"
//! is always the caller's. What is the project's own here: the range, the business days, and a
//! parser stricter than chrono's (no space for `T`, no `:60`, at most nine fraction digits).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike};

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
pub struct Date(NaiveDate);

/// 1970-01-01.
const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();

/// Days from 1970-01-01 to 0000-01-01 and to 9999-12-31.
#[cfg(test)]
const MIN_DAYS: i64 = -719_528;
#[cfg(test)]
const MAX_DAYS: i64 = 2_932_896;

impl Date {
    fn checked(date: NaiveDate) -> Result<Date, TimeError> {
        if (0..=9999).contains(&date.year()) {
            Ok(Date(date))
        } else {
            Err(TimeError::OutOfRange)
        }
    }

    /// A date, if it exists (`2025-02-29` does not).
    pub fn new(year: i32, month: u8, day: u8) -> Result<Date, TimeError> {
        if !(0..=9999).contains(&year) {
            return Err(TimeError::OutOfRange);
        }
        NaiveDate::from_ymd_opt(year, month.into(), day.into())
            .map(Date)
            .ok_or(TimeError::BadDate)
    }

    pub fn year(self) -> i32 {
        self.0.year()
    }
    pub fn month(self) -> u8 {
        self.0.month() as u8
    }
    pub fn day(self) -> u8 {
        self.0.day() as u8
    }

    /// Parses exactly `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Date, TimeError> {
        // chrono's `%Y` would also take a sign or fewer digits: the shape is checked first.
        let b = s.as_bytes();
        let shape = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !shape {
            return Err(TimeError::BadDate);
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Date)
            .map_err(|_| TimeError::BadDate)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        (self.0 - EPOCH).num_days()
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Result<Date, TimeError> {
        let date = chrono::TimeDelta::try_days(days)
            .and_then(|d| EPOCH.checked_add_signed(d))
            .ok_or(TimeError::OutOfRange)?;
        Date::checked(date)
    }

    /// The UTC date of an instant.
    pub fn from_epoch_millis(ms: i64) -> Result<Date, TimeError> {
        Date::from_days_since_epoch(ms.div_euclid(MILLIS_PER_DAY))
    }

    pub fn weekday(self) -> Weekday {
        match self.0.weekday() {
            chrono::Weekday::Mon => Weekday::Monday,
            chrono::Weekday::Tue => Weekday::Tuesday,
            chrono::Weekday::Wed => Weekday::Wednesday,
            chrono::Weekday::Thu => Weekday::Thursday,
            chrono::Weekday::Fri => Weekday::Friday,
            chrono::Weekday::Sat => Weekday::Saturday,
            chrono::Weekday::Sun => Weekday::Sunday,
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
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// `2026-11-23T04:05:06.789Z` from milliseconds since 1970-01-01T00:00:00Z.
pub fn format_timestamp(epoch_ms: i64) -> Result<String, TimeError> {
    Date::from_epoch_millis(epoch_ms)?;
    let at = DateTime::from_timestamp_millis(epoch_ms).ok_or(TimeError::OutOfRange)?;
    Ok(at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Milliseconds since the epoch from an RFC 3339 timestamp: `YYYY-MM-DDTHH:MM:SS`, an optional
/// fraction of 1 to 9 digits (cut to milliseconds) and `Z` or an offset `±HH:MM`. `t` and `z`
/// may be lower case. Leap seconds (`:60`) are refused.
pub fn parse_timestamp(s: &str) -> Result<i64, TimeError> {
    let bad = TimeError::BadTimestamp;
    let b = s.as_bytes();
    if !s.is_ascii() || b.len() < 20 {
        return Err(bad);
    }
    // What RFC 3339 allows but we do not, and chrono takes: a space for `T` (its section 5.6
    // note), more than nine fraction digits.
    if !matches!(b[10], b'T' | b't') {
        return Err(bad);
    }
    if let Some(fraction) = s[19..].strip_prefix('.')
        && fraction.bytes().take_while(u8::is_ascii_digit).count() > 9
    {
        return Err(bad);
    }
    let at = DateTime::parse_from_rfc3339(s).map_err(|_| TimeError::BadTimestamp)?;
    // chrono reads `:60` as a leap second: one more second's worth of nanoseconds.
    if at.nanosecond() >= 1_000_000_000 {
        return Err(bad);
    }
    let utc = at.timestamp_millis();
    // The instant must itself be a date we can write back.
    Date::from_epoch_millis(utc)?;
    Ok(utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Gregorian rule, written out independently of chrono, to check it against.
    fn days_in_month(year: i32, month: u8) -> u8 {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            _ => 28,
        }
    }

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
            assert_eq!(Date::new(d.year(), d.month(), d.day()), Ok(d));
            if let Some(p) = previous {
                let next_expected = if p.day() < days_in_month(p.year(), p.month()) {
                    (p.year(), p.month(), p.day() + 1)
                } else if p.month() < 12 {
                    (p.year(), p.month() + 1, 1)
                } else {
                    (p.year() + 1, 1, 1)
                };
                assert_eq!((d.year(), d.month(), d.day()), next_expected);
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
