//! A tiny tmpfs mounted by a test (tests run as root) to stand in for a
//! full remote disk; unmounted on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Tmpfs(Option<PathBuf>);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (such as "512k") on `dir`, creating it.
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("create the mount point");
        let status = Command::new(super::require_program("mount"))
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount tmpfs on {} (tests run as root)",
            dir.display()
        );
        Tmpfs(Some(dir.to_path_buf()))
    }

    /// Unmounts now (the disk "gets space again").
    pub fn unmount(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = Command::new(super::require_program("umount"))
                .arg(dir)
                .status();
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        self.unmount();
    }
}
