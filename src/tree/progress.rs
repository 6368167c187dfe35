//! Progress on a terminal: files, bytes, speed and time left, redrawn on one
//! line of standard error. Nothing is drawn when standard error is not a
//! terminal (cron, systemd, a log file): those get one summary line at the end.

use std::io::Write;
use std::time::Duration;

use crate::size::human_size;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub elapsed: Duration,
}

/// MiB per second, 0 when no time has passed.
pub fn mib_per_second(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        0.0
    } else {
        bytes as f64 / (1024.0 * 1024.0) / secs
    }
}

/// "h:mm:ss".
pub fn clock(duration: Duration) -> String {
    let secs = duration.as_secs();
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The progress line, e.g.
/// `hashing 12/2000 files, 1.20 GiB of 3.00 GiB, 512.3 MiB/s, ETA 0:00:04`.
pub fn line(p: &Progress) -> String {
    let speed = mib_per_second(p.bytes_done, p.elapsed);
    let eta = if speed > 0.0 && p.bytes_total >= p.bytes_done {
        let left = (p.bytes_total - p.bytes_done) as f64 / (speed * 1024.0 * 1024.0);
        clock(Duration::from_secs_f64(left.min(1e9)))
    } else {
        "?".into()
    };
    format!(
        "hashing {}/{} files, {} of {}, {speed:.1} MiB/s, ETA {eta}",
        p.files_done,
        p.files_total,
        human_size(p.bytes_done),
        human_size(p.bytes_total),
    )
}

/// Redraws the line on standard error when it is a terminal.
pub struct Display {
    enabled: bool,
    drawn: bool,
}

impl Display {
    pub fn new(enabled: bool) -> Display {
        Display {
            enabled,
            drawn: false,
        }
    }

    pub fn draw(&mut self, p: &Progress) {
        if self.enabled {
            let _ = write!(std::io::stderr(), "\r{}\x1b[K", line(p));
            self.drawn = true;
        }
    }

    /// Ends the line so log messages start on a fresh one.
    pub fn finish(&mut self) {
        if self.drawn {
            let _ = writeln!(std::io::stderr());
            self.drawn = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_counts_speed_and_eta() {
        let p = Progress {
            files_done: 1,
            files_total: 4,
            bytes_done: 100 << 20,
            bytes_total: 300 << 20,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(
            line(&p),
            "hashing 1/4 files, 100.00 MiB of 300.00 MiB, 50.0 MiB/s, ETA 0:00:04"
        );
        let start = Progress {
            elapsed: Duration::ZERO,
            bytes_done: 0,
            ..p
        };
        assert!(line(&start).ends_with("0.0 MiB/s, ETA ?"));
    }

    #[test]
    fn clock_format() {
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(clock(Duration::ZERO), "0:00:00");
    }
}
