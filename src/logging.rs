//! Logging for three audiences: a person at a terminal (simple_logger, UTC
//! timestamps, standard error), the systemd journal (no timestamps, since the
//! journal adds its own, and `<N>` priority prefixes it understands), and a
//! log file that cron runs append to (timestamps, one line per record).
//!
//! Messages are written as UTF-8 bytes whatever LANG/LC_ALL say: Rust does
//! not consult the locale, so a torrent named "Łódź" prints as itself under
//! LANG=C, which the original driver could not do.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

/// Where log records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Terminal,
    Systemd,
    File(PathBuf),
}

/// Logging could not be set up.
#[derive(Debug)]
pub struct LogSetupError(String);

impl fmt::Display for LogSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LogSetupError {}

/// Parses a level name as users write it in `--log-level` or `log_level`.
/// The original driver's config used Python's names, so `warning` and
/// `critical` are accepted too.
pub fn parse_level(text: &str) -> Result<LevelFilter, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "off" | "none" => Ok(LevelFilter::Off),
        "error" | "critical" | "fatal" => Ok(LevelFilter::Error),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        "trace" => Ok(LevelFilter::Trace),
        other => Err(format!(
            "unknown log level \"{other}\"; expected one of error, warn, info, debug, trace"
        )),
    }
}

/// Installs the global logger. Calling it twice (as in-process CLI tests do)
/// keeps the first logger and only changes the level.
pub fn init(level: LevelFilter, target: LogTarget) -> Result<(), LogSetupError> {
    let result = match target {
        LogTarget::Terminal => simple_logger::SimpleLogger::new()
            .with_level(level)
            .with_utc_timestamps()
            .init()
            .map_err(|e| e.to_string()),
        LogTarget::Systemd => log::set_boxed_logger(Box::new(LineLogger {
            level,
            sink: Sink::Stderr,
            timestamps: false,
        }))
        .map_err(|e| e.to_string()),
        LogTarget::File(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| {
                    LogSetupError(format!("cannot open log file {}: {e}", path.display()))
                })?;
            log::set_boxed_logger(Box::new(LineLogger {
                level,
                sink: Sink::File(Mutex::new(file)),
                timestamps: true,
            }))
            .map_err(|e| e.to_string())
        }
    };
    // Already set (a second run in the same process): keep it, adjust the level.
    let _ = result;
    log::set_max_level(level);
    Ok(())
}

enum Sink {
    Stderr,
    File(Mutex<File>),
}

struct LineLogger {
    level: LevelFilter,
    sink: Sink,
    timestamps: bool,
}

impl Log for LineLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = if self.timestamps {
            format!(
                "{} {:<5} [{}] {}\n",
                utc_timestamp(SystemTime::now()),
                record.level(),
                record.target(),
                record.args()
            )
        } else {
            format!(
                "<{}>{:<5} {}\n",
                syslog_priority(record.level()),
                record.level(),
                record.args()
            )
        };
        // A log line that cannot be written must not stop the work it describes.
        match &self.sink {
            Sink::Stderr => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Sink::File(file) => {
                if let Ok(mut file) = file.lock() {
                    let _ = file.write_all(line.as_bytes());
                }
            }
        }
    }

    fn flush(&self) {
        if let Sink::File(file) = &self.sink {
            if let Ok(mut file) = file.lock() {
                let _ = file.flush();
            }
        }
    }
}

/// sd-daemon(3) priorities, which journald reads from the start of a line.
fn syslog_priority(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// `2026-11-22T03:13:00.123Z`, the same shape simple_logger prints.
pub fn utc_timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm), so no date library is needed for a log prefix.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn levels_accept_python_names() {
        assert_eq!(parse_level("WARNING"), Ok(LevelFilter::Warn));
        assert_eq!(parse_level("critical"), Ok(LevelFilter::Error));
        assert_eq!(parse_level(" debug "), Ok(LevelFilter::Debug));
        let err = parse_level("loud").unwrap_err();
        assert!(
            err.contains("\"loud\"") && err.contains("expected one of"),
            "{err}"
        );
    }

    #[test]
    fn timestamps_match_known_dates() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 12:34:56.789 UTC: a leap day in a century leap year.
        let t = UNIX_EPOCH + Duration::from_millis(951_827_696_789);
        assert_eq!(utc_timestamp(t), "2000-02-29T12:34:56.789Z");
        // 2026-11-22 00:00:00 UTC.
        let t = UNIX_EPOCH + Duration::from_secs(1_795_305_600);
        assert_eq!(utc_timestamp(t), "2026-11-22T00:00:00.000Z");
    }
}
