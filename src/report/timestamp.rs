//! Capture timestamps as RFC 3339 text in UTC with microseconds, written into a
//! byte buffer without a date library on the path of every record.

use crate::capture::Timestamp;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// Appends `ts` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the fraction truncated to
/// microseconds. Every timestamp lies in the years 1677 to 2262, so the year
/// always has four digits. The tests compare it with the `time` crate.
pub fn write_rfc3339_micros(out: &mut Vec<u8>, ts: Timestamp) {
    let secs = ts.0.div_euclid(NANOS_PER_SEC);
    let micros = ts.0.rem_euclid(NANOS_PER_SEC) / 1_000;
    let days = secs.div_euclid(SECS_PER_DAY);
    let second_of_day = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_date(days);

    // Filling a stack copy and appending it once avoids a capacity check for
    // each part. Digits go in pairs from a table, so that no division waits
    // for the one before it.
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    let (year, second_of_day, micros) = (year as u64, second_of_day as u64, micros as u64);
    pair(&mut text[0..2], year / 100);
    pair(&mut text[2..4], year % 100);
    pair(&mut text[5..7], u64::from(month));
    pair(&mut text[8..10], u64::from(day));
    pair(&mut text[11..13], second_of_day / 3600);
    pair(&mut text[14..16], second_of_day / 60 % 60);
    pair(&mut text[17..19], second_of_day % 60);
    pair(&mut text[20..22], micros / 10_000);
    pair(&mut text[22..24], micros / 100 % 100);
    pair(&mut text[24..26], micros % 100);
    out.extend_from_slice(&text);
}

/// The two digits of every number below 100.
const PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut n = 0;
    while n < 100 {
        pairs[n] = [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        n += 1;
    }
    pairs
};

/// Writes `value`, below 100, as two digits into `slots`.
fn pair(slots: &mut [u8], value: u64) {
    slots.copy_from_slice(&PAIRS[value as usize % 100]);
}

/// Returns the microseconds from `start` to `end` as the record shows them:
/// the difference of the two timestamps, each truncated to microseconds, so
/// that `duration` always equals `ts_end - ts_start` as written. Zero when
/// `end` comes first.
pub fn duration_micros(start: Timestamp, end: Timestamp) -> i64 {
    let micros = |ts: Timestamp| ts.0.div_euclid(1_000);
    (micros(end) - micros(start)).max(0)
}

/// Returns the proleptic Gregorian year, month and day of a count of days
/// since 1970-01-01. The calendar repeats every 400 years (146,097 days).
/// Counting years from March puts the leap day at the end of each year.
fn civil_date(days: i64) -> (i64, u8, u8) {
    let shifted = days + 719_468; // days from 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u8, day as u8)
}

/// Writes `value` into `slots` as zero-padded decimal digits. Digits above
/// the width of `slots` are dropped.
pub(super) fn digits(slots: &mut [u8], mut value: u64) {
    let mut end = slots.len();
    while end >= 2 {
        pair(&mut slots[end - 2..end], value % 100);
        value /= 100;
        end -= 2;
    }
    if end == 1 {
        slots[0] = b'0' + (value % 10) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;
    use time::macros::format_description;

    /// The same text from the `time` crate, whose range covers every i64 of
    /// nanoseconds.
    fn format_timestamp(ts: Timestamp) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.0))
            .unwrap()
            .format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
            ))
            .unwrap()
    }

    fn text(ts: Timestamp) -> String {
        let mut out = Vec::new();
        write_rfc3339_micros(&mut out, ts);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn known_instants_format() {
        assert_eq!(text(Timestamp(0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            text(Timestamp::from_secs_nanos(1_368_518_052, 123_456_789)),
            "2013-05-14T07:54:12.123456Z"
        );
        assert_eq!(
            text(Timestamp(-1_500_000_000)),
            "1969-12-31T23:59:58.500000Z"
        );
        assert_eq!(
            text(Timestamp::from_secs_nanos(951_782_400, 0)),
            "2000-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn duration_follows_written_timestamps() {
        // 1 ns apart across a microsecond boundary: the timestamps differ by 1 µs.
        assert_eq!(duration_micros(Timestamp(999), Timestamp(1_000)), 1);
        // 999 ns apart within one microsecond: the timestamps are equal.
        assert_eq!(duration_micros(Timestamp(1_000), Timestamp(1_999)), 0);
        assert_eq!(duration_micros(Timestamp(-1), Timestamp(0)), 1);
        assert_eq!(duration_micros(Timestamp(5_000), Timestamp(1_000)), 0);
        assert_eq!(
            duration_micros(Timestamp(i64::MIN), Timestamp(i64::MAX)),
            18_446_744_073_709_551
        );
    }

    #[test]
    fn extremes_match_date_library() {
        for ts in [i64::MIN, i64::MIN + 1, -1, 1, i64::MAX - 1, i64::MAX] {
            assert_eq!(text(Timestamp(ts)), format_timestamp(Timestamp(ts)), "{ts}");
        }
    }

    proptest::proptest! {
        #[test]
        fn random_instants_match_date_library(nanos in proptest::num::i64::ANY) {
            proptest::prop_assert_eq!(text(Timestamp(nanos)), format_timestamp(Timestamp(nanos)));
        }

        #[test]
        fn day_boundaries_match_date_library(day in -106_751i64..106_751, offset in -2_000i64..2_000) {
            let nanos = (day * SECS_PER_DAY).saturating_mul(NANOS_PER_SEC).saturating_add(offset * 1_000);
            proptest::prop_assert_eq!(text(Timestamp(nanos)), format_timestamp(Timestamp(nanos)));
        }
    }
}
