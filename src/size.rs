//! Sizes and durations as people write them in configuration files:
//! "3221225472", "3 GiB", "500MB", "1.5G"; "90s", "2h", "1d 12h".
//!
//! Decimal units (kB, MB, GB, TB) are powers of 1000 and binary units (KiB,
//! MiB, GiB, TiB) powers of 1024, as their names say; a bare "K"/"M"/"G"/"T"
//! means the binary unit, as in rsync, rclone and dd.

use std::time::Duration;

/// Parses a byte count. The error says what was expected.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(
            "expected a size such as 3221225472, \"3 GiB\" or \"500MB\", found nothing".into(),
        );
    }
    if trimmed.starts_with('-') {
        return Err(format!(
            "expected a size of zero or more bytes, found \"{trimmed}\""
        ));
    }
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    let invalid = || {
        format!("expected a size such as 3221225472, \"3 GiB\" or \"500MB\", found \"{trimmed}\"")
    };
    if number.is_empty() {
        return Err(invalid());
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" | "byte" | "bytes" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1_000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        "t" | "tib" => 1 << 40,
        "tb" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "unknown size unit \"{unit}\" in \"{trimmed}\"; use B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"
            ))
        }
    };
    if let Ok(whole) = number.parse::<u64>() {
        return whole
            .checked_mul(multiplier)
            .ok_or_else(|| format!("size \"{trimmed}\" is too large"));
    }
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("size \"{trimmed}\" is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Parses a duration: a number of seconds, or parts like "90s", "15m", "2h",
/// "1d 12h", "1w".
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let expected = || {
        format!("expected a duration such as 3600, \"90s\", \"15m\", \"2h\" or \"1d 12h\", found \"{trimmed}\"")
    };
    if trimmed.is_empty() {
        return Err(expected());
    }
    if let Ok(secs) = trimmed.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(expected());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| expected())?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let seconds_per: u64 = match &rest[..unit_len] {
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 604_800,
            _ => return Err(expected()),
        };
        rest = &rest[unit_len..];
        total = value
            .checked_mul(seconds_per)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("duration \"{trimmed}\" is too long"))?;
    }
    Ok(Duration::from_secs(total))
}

/// "3.00 GiB" for people; exact bytes stay in logs where they matter.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match UNITS.get(unit) {
        Some(name) if unit > 0 => format!("{value:.2} {name}"),
        _ => format!("{bytes} B"),
    }
}

/// A duration the way parse_duration reads it: every non-zero part,
/// largest first ("1d 1h 1m 1s", "0s"). Under a minute, a fraction shows
/// as tenths ("1.3s"): only timings have one, config values are whole
/// seconds, so what `lowspace config` prints still reads back.
pub fn human_duration(d: Duration) -> String {
    duration_parts(d).join(" ")
}

/// The two largest parts of human_duration ("1h 59m", "35m", "2d 3h"):
/// enough in a status line, where the seconds of a wait are noise.
pub fn short_duration(d: Duration) -> String {
    duration_parts(d)
        .into_iter()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn duration_parts(d: Duration) -> Vec<String> {
    let mut rest = d.as_secs();
    if rest < 60 && d.subsec_nanos() != 0 {
        let tenths = d.subsec_millis() / 100;
        return vec![format!("{rest}.{tenths}s")];
    }
    if rest == 0 {
        return vec!["0s".to_string()];
    }
    let mut parts = Vec::new();
    for (unit, seconds) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= seconds {
            parts.push(format!("{}{unit}", rest / seconds));
            rest %= seconds;
        }
    }
    parts
}

/// "1 file", "2 files": a count with its noun, never "file(s)".
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_whole_read_back_and_short_keeps_two_parts() {
        for (secs, whole, short) in [
            (0, "0s", "0s"),
            (59, "59s", "59s"),
            (119, "1m 59s", "1m 59s"),
            (3600, "1h", "1h"),
            (7199, "1h 59m 59s", "1h 59m"),
            (90_061, "1d 1h 1m 1s", "1d 1h"),
            (172_800, "2d", "2d"),
        ] {
            let d = Duration::from_secs(secs);
            assert_eq!(human_duration(d), whole);
            assert_eq!(short_duration(d), short);
            assert_eq!(parse_duration(whole), Ok(d));
        }
    }

    #[test]
    fn timings_under_a_minute_keep_tenths() {
        assert_eq!(human_duration(Duration::from_millis(1_349)), "1.3s");
        assert_eq!(human_duration(Duration::from_millis(40)), "0.0s");
        assert_eq!(short_duration(Duration::from_millis(59_999)), "59.9s");
        // From a minute on, whole seconds.
        assert_eq!(human_duration(Duration::from_millis(61_500)), "1m 1s");
    }

    #[test]
    fn sizes_in_every_accepted_form() {
        let cases: &[(&str, u64)] = &[
            ("3221225472", 3_221_225_472),
            ("3 GiB", 3 << 30),
            ("3GiB", 3 << 30),
            ("500MB", 500_000_000),
            ("500 mb", 500_000_000),
            ("1.5G", 1_610_612_736),
            ("0", 0),
            ("10 bytes", 10),
            ("2 TiB", 2 << 40),
            ("1k", 1024),
            ("1 kB", 1000),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn size_errors_say_what_was_expected() {
        for (text, fragment) in [
            ("-5", "zero or more"),
            ("", "found nothing"),
            ("lots", "found \"lots\""),
            ("3 parsecs", "unknown size unit \"parsecs\""),
            ("1.2.3 GB", "found \"1.2.3 GB\""),
            ("99999999999 TiB", "too large"),
            ("GiB", "found \"GiB\""),
        ] {
            let err = parse_size(text).unwrap_err();
            assert!(err.contains(fragment), "{text}: {err}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1d 12h"), Ok(Duration::from_secs(129_600)));
        assert_eq!(parse_duration("2h30m"), Ok(Duration::from_secs(9000)));
        assert!(parse_duration("soon")
            .unwrap_err()
            .contains("found \"soon\""));
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("-3h").is_err());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(3 << 30), "3.00 GiB");
        assert_eq!(human_size(1536), "1.50 KiB");
    }
}
