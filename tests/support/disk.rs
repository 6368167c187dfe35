//! What data takes on the local disk, and a background sampler of its peak,
//! so a test sees a limit broken between two runs too, not only after them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Bytes of the files under `path` (or `path` itself), by their lengths.
pub fn bytes_under(path: &Path) -> u64 {
    under(path, &|m| m.len())
}

/// Bytes the files under `path` really take (allocated blocks): a sparse
/// file rtorrent wrote one piece into counts that piece, not its length.
pub fn allocated_under(path: &Path) -> u64 {
    under(path, &|m| std::os::unix::fs::MetadataExt::blocks(m) * 512)
}

fn under(path: &Path, measure: &dyn Fn(&std::fs::Metadata) -> u64) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| under(&e.path(), measure))
                    .sum()
            })
            .unwrap_or(0),
        Ok(m) => measure(&m),
        Err(_) => 0,
    }
}

/// Samples the bytes the named entries of `data_dir` take, every 20 ms,
/// in the background, and keeps the peak.
pub struct DiskWatch {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DiskWatch {
    /// Measures by file lengths.
    pub fn start(data_dir: PathBuf, names: Vec<String>) -> DiskWatch {
        DiskWatch::start_with(data_dir, names, bytes_under)
    }

    pub fn start_with(
        data_dir: PathBuf,
        names: Vec<String>,
        measure: fn(&Path) -> u64,
    ) -> DiskWatch {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let used: u64 = names.iter().map(|n| measure(&data_dir.join(n))).sum();
                p.fetch_max(used, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        DiskWatch {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for DiskWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
