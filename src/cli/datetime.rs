//! The two time formats of kafka-consumer-groups' `--reset-offsets`: `--to-datetime` (Kafka's
//! `Utils.getDateTime`: `YYYY-MM-DDTHH:mm:SS[.sss]` with an optional zone, UTC without one) and
//! `--by-duration` (Java's `Duration.parse`: `PnDTnHnMn.nS`). Hand-written: the crate has no date
//! library, and these two formats are all the tools read.

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// Milliseconds since the Unix epoch of an ISO8601 date-time as `--to-datetime` takes it:
/// `2024-05-01T10:00:00`, `2024-05-01T10:00:00.250`, with `Z`, `+02:00`, `-0530` or `+02`.
pub fn parse_datetime_ms(text: &str) -> Result<i64, String> {
    let bad = |why: &str| {
        format!(
            "cannot parse date-time '{text}' ({why}); use ISO8601 as \
             'YYYY-MM-DDTHH:mm:SS.sss', optionally with a zone: Z, +HH:mm, -HH:mm"
        )
    };
    let (date, time) = text
        .split_once('T')
        .ok_or_else(|| bad("no 'T' between the date and the time"))?;
    let [year, month, day] = fields::<3>(date, '-').ok_or_else(|| bad("the date"))?;
    let (year, month, day) = (
        number(year, 4).ok_or_else(|| bad("the year"))?,
        number(month, 2).ok_or_else(|| bad("the month"))?,
        number(day, 2).ok_or_else(|| bad("the day"))?,
    );
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad("no such day"));
    }
    // The zone starts at the first Z, + or - after the time of day.
    let zone_at = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
    let (clock, zone) = time.split_at(zone_at);
    let (hms, millis) = match clock.split_once('.') {
        None => (clock, 0),
        Some((hms, fraction)) => (hms, number(fraction, 3).ok_or_else(|| bad("milliseconds"))?),
    };
    let [hour, minute, second] = fields::<3>(hms, ':').ok_or_else(|| bad("the time of day"))?;
    let (hour, minute, second) = (
        number(hour, 2).ok_or_else(|| bad("the hour"))?,
        number(minute, 2).ok_or_else(|| bad("the minutes"))?,
        number(second, 2).ok_or_else(|| bad("the seconds"))?,
    );
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad("no such time of day"));
    }
    let offset_ms = zone_offset_ms(zone).ok_or_else(|| bad("the zone"))?;
    let days = days_from_civil(year, month, day);
    Ok(days * MS_PER_DAY
        + hour * MS_PER_HOUR
        + minute * MS_PER_MINUTE
        + second * MS_PER_SECOND
        + millis
        - offset_ms)
}

/// Milliseconds of a Java `Duration.parse` text as `--by-duration` takes it: `P1DT2H30M`,
/// `PT15M`, `PT0.5S`, `-PT6H` (letters in either case, each part optionally signed).
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let bad = || {
        format!("cannot parse duration '{text}'; use ISO8601 as PnDTnHnMn.nS, e.g. P1DT2H or PT30M")
    };
    let upper = text.to_ascii_uppercase();
    let (negated, rest) = match upper.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, upper.strip_prefix('+').unwrap_or(&upper)),
    };
    let rest = rest.strip_prefix('P').ok_or_else(bad)?;
    let (day_part, time_part) = match rest.split_once('T') {
        Some((days, time)) if !time.is_empty() => (days, Some(time)),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    let mut total: i64 = 0;
    let mut parts = 0;
    let mut add = |ms: Option<i64>| -> Result<(), String> {
        total = total.checked_add(ms.ok_or_else(bad)?).ok_or_else(bad)?;
        parts += 1;
        Ok(())
    };
    if !day_part.is_empty() {
        let days = day_part.strip_suffix('D').ok_or_else(bad)?;
        add(signed(days).and_then(|d| d.checked_mul(MS_PER_DAY)))?;
    }
    let mut time = time_part.unwrap_or("");
    for (unit, ms_per_unit) in [('H', MS_PER_HOUR), ('M', MS_PER_MINUTE)] {
        if let Some((amount, after)) = time.split_once(unit) {
            add(signed(amount).and_then(|n| n.checked_mul(ms_per_unit)))?;
            time = after;
        }
    }
    if !time.is_empty() {
        let seconds = time.strip_suffix('S').ok_or_else(bad)?;
        add(seconds_ms(seconds))?;
    }
    if parts == 0 {
        return Err(bad());
    }
    if negated {
        total.checked_neg().ok_or_else(bad)
    } else {
        Ok(total)
    }
}

/// `n` dash/colon-separated fields.
fn fields<const N: usize>(text: &str, separator: char) -> Option<[&str; N]> {
    let parts: Vec<&str> = text.split(separator).collect();
    parts.try_into().ok()
}

/// Exactly `digits` decimal digits.
fn number(text: &str, digits: usize) -> Option<i64> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// An optionally signed whole number of one to 18 digits.
fn signed(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `n` or `n.fff` seconds (a fraction of up to nine digits, as Java's; below a millisecond it
/// is dropped), optionally signed.
fn seconds_ms(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let negative = whole.starts_with('-');
    let ms = signed(whole)?.checked_mul(MS_PER_SECOND)?;
    if fraction.is_empty() {
        return (!text.ends_with('.')).then_some(ms);
    }
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    if negative {
        ms.checked_sub(millis)
    } else {
        ms.checked_add(millis)
    }
}

/// `Z`, `±HH`, `±HHmm`, `±HH:mm`, or nothing (UTC, as Kafka reads a date-time without a zone).
fn zone_offset_ms(zone: &str) -> Option<i64> {
    if zone.is_empty() || zone.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, rest) = match zone.split_at(1) {
        ("+", rest) => (1, rest),
        ("-", rest) => (-1, rest),
        _ => return None,
    };
    let compact = rest.replacen(':', "", usize::from(rest.len() == 5));
    let (hours, minutes) = match compact.len() {
        2 => (number(&compact, 2)?, 0),
        4 => (number(&compact[..2], 2)?, number(&compact[2..], 2)?),
        _ => return None,
    };
    // Java's ZoneOffset reaches ±18:00 and no further.
    if hours > 18 || minutes > 59 || (hours == 18 && minutes > 0) {
        return None;
    }
    Some(sign * (hours * MS_PER_HOUR + minutes * MS_PER_MINUTE))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_parse_as_kafka_reads_them() {
        assert_eq!(parse_datetime_ms("1970-01-01T00:00:00").unwrap(), 0);
        // 2024-02-29 is day 19782 after the epoch.
        let leap_day = 19_782 * MS_PER_DAY;
        assert_eq!(
            parse_datetime_ms("2024-02-29T00:00:00.000").unwrap(),
            leap_day
        );
        assert_eq!(
            parse_datetime_ms("2024-02-29T10:20:30.456Z").unwrap(),
            leap_day + 10 * MS_PER_HOUR + 20 * MS_PER_MINUTE + 30_456
        );
        // A zone east of UTC is earlier in UTC; all spellings of it agree.
        let east = leap_day - 2 * MS_PER_HOUR;
        for text in [
            "2024-02-29T00:00:00+02:00",
            "2024-02-29T00:00:00+0200",
            "2024-02-29T00:00:00+02",
            "2024-02-29T00:00:00.000+02:00",
        ] {
            assert_eq!(parse_datetime_ms(text).unwrap(), east, "{text}");
        }
        assert_eq!(
            parse_datetime_ms("2024-02-29T00:00:00-05:30").unwrap(),
            leap_day + 5 * MS_PER_HOUR + 30 * MS_PER_MINUTE
        );
        assert_eq!(
            parse_datetime_ms("1969-12-31T23:59:59.999Z").unwrap(),
            -1,
            "before the epoch"
        );
        for bad in [
            "2024-02-29",
            "2023-02-29T00:00:00",
            "2024-13-01T00:00:00",
            "2024-02-29T24:00:00",
            "2024-02-29T10:20",
            "2024-02-29T10:20:30.5",
            "2024-02-29T10:20:30+2:00",
            "2024-02-29T10:20:30+18:01",
            "2024-02-29T10:20:30X",
            "24-02-29T10:20:30",
            "",
            "T",
        ] {
            assert!(parse_datetime_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse_as_java_duration_does() {
        assert_eq!(parse_duration_ms("PT15M").unwrap(), 15 * MS_PER_MINUTE);
        assert_eq!(
            parse_duration_ms("P1DT2H3M4.5S").unwrap(),
            MS_PER_DAY + 2 * MS_PER_HOUR + 3 * MS_PER_MINUTE + 4_500
        );
        assert_eq!(parse_duration_ms("p2d").unwrap(), 2 * MS_PER_DAY);
        assert_eq!(parse_duration_ms("PT0.25S").unwrap(), 250);
        assert_eq!(parse_duration_ms("-PT6H").unwrap(), -6 * MS_PER_HOUR);
        assert_eq!(
            parse_duration_ms("PT-6H30M").unwrap(),
            -6 * MS_PER_HOUR + 30 * MS_PER_MINUTE
        );
        assert_eq!(parse_duration_ms("PT-1.5S").unwrap(), -1_500);
        for bad in [
            "",
            "P",
            "PT",
            "1D",
            "P1H",
            "PT1D",
            "PTM",
            "PT1.S",
            "P1DT",
            "PT1H2",
            "PT99999999999999999999H",
            "PT9223372036854775.808S",
            "-PT-9223372036854775.808S",
        ] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }
}
