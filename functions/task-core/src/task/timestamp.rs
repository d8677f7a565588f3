//! A timestamp as JSON: the same text as chrono's own `Serialize` (RFC 3339,
//! `Z`, no fraction or 3, 6 or 9 digits of it), written without the
//! formatting machinery. A page of 50 tasks has 100 timestamps, and
//! formatting them through `Display` was a tenth of list-tasks' CPU.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serializer;

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` at its longest with 6 digits; 9 digits and
/// the rest fit too.
const MAX_LEN: usize = 30;

pub fn serialize<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; MAX_LEN];
    match write(time, &mut buffer) {
        Some(len) => {
            let text = std::str::from_utf8(&buffer[..len]).expect("digits and ASCII punctuation");
            serializer.serialize_str(text)
        }
        // A year outside 0..=9999 or a leap second: chrono knows how.
        None => serde::Serialize::serialize(time, serializer),
    }
}

/// Writes `time` into `out`; its length, or `None` where chrono's own
/// format differs from the plain one.
fn write(time: &DateTime<Utc>, out: &mut [u8; MAX_LEN]) -> Option<usize> {
    let year = u32::try_from(time.year())
        .ok()
        .filter(|year| *year <= 9999)?;
    let nanos = time.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    digits(&mut out[0..4], year);
    out[4] = b'-';
    digits(&mut out[5..7], time.month());
    out[7] = b'-';
    digits(&mut out[8..10], time.day());
    out[10] = b'T';
    digits(&mut out[11..13], time.hour());
    out[13] = b':';
    digits(&mut out[14..16], time.minute());
    out[16] = b':';
    digits(&mut out[17..19], time.second());
    let mut len = 19;
    let (fraction, places) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    if places > 0 {
        out[len] = b'.';
        digits(&mut out[len + 1..len + 1 + places], fraction);
        len += 1 + places;
    }
    out[len] = b'Z';
    Some(len + 1)
}

/// `value` in decimal, zero-padded to fill `out`.
fn digits(out: &mut [u8], mut value: u32) {
    for place in out.iter_mut().rev() {
        *place = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;

    fn ours(time: &DateTime<Utc>) -> String {
        serialize(time, serde_json::value::Serializer)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    fn chronos(time: &DateTime<Utc>) -> String {
        serde_json::to_value(time)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn writes_what_chrono_writes_for_every_precision() {
        let base = Utc.with_ymd_and_hms(2026, 12, 6, 0, 21, 14).unwrap();
        for nanos in [
            0,
            1,
            999,
            1_000,
            123_456_000,
            123_000_000,
            100_000_000,
            999_999_999,
            500_000,
            7_654_321,
        ] {
            let time = base + chrono::Duration::nanoseconds(nanos);
            assert_eq!(ours(&time), chronos(&time), "{nanos} ns");
        }
    }

    #[test]
    fn writes_what_chrono_writes_across_the_calendar() {
        // A day and a microsecond fraction from a simple generator, over
        // the years a task can carry, including the ends of each field.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let day = NaiveDate::from_ymd_opt(0, 1, 1).unwrap()
                + chrono::Days::new(seed % (10_000 * 365));
            let micros = (seed >> 20) % 86_400_000_000;
            let time = Utc.from_utc_datetime(
                &(day.and_hms_opt(0, 0, 0).unwrap()
                    + chrono::Duration::microseconds(micros as i64)),
            );
            assert_eq!(ours(&time), chronos(&time));
        }
    }

    #[test]
    fn leaves_what_the_plain_format_cannot_say_to_chrono() {
        let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(ours(&far), chronos(&far));
        let before_year_zero = Utc.with_ymd_and_hms(-1, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(ours(&before_year_zero), chronos(&before_year_zero));
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        assert_eq!(ours(&leap), chronos(&leap));
    }
}
