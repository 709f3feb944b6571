//! Times as RFC 3339 text in UTC (`2026-12-02T06:30:00.123Z`), for `peer whoami`: the
//! proleptic Gregorian calendar computed from the day count, no time zone database.

/// `ms` since the Unix epoch as RFC 3339 in UTC, with milliseconds.
pub fn format_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        ms % 1000
    )
}

/// (year, month 1-12, day 1-31) of `days` since 1970-01-01: the days are counted in 400-year
/// eras of 146 097 days, each era's years starting on 1 March so that the leap day ends one.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, the start of an era.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: 0 = March ... 11 = February.
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format_as_rfc3339() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day of a year divisible by 400), 12:34:56.789.
        assert_eq!(format_ms(951_827_696_789), "2000-02-29T12:34:56.789Z");
        assert_eq!(format_ms(951_868_800_000), "2000-03-01T00:00:00.000Z");
        // The last millisecond of 2026, and the day 2100-03-01 (2100 is no leap year).
        assert_eq!(format_ms(1_798_761_599_999), "2026-12-31T23:59:59.999Z");
        assert_eq!(format_ms(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
    }
}
