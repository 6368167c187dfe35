//! The two things std does not offer and the peer needs: waiting on many
//! sockets at once (`poll(2)`) and noticing SIGINT/SIGTERM. Both are
//! declared straight against the C library std already links (glibc or
//! musl), so no crate is added; the unsafe surface is these two calls.
//!
//! Why poll and one thread: a Raspberry Pi has little memory, and a
//! thread per connection (even with small stacks) costs far more than a
//! `pollfd` per connection. poll is in every libc on every Linux target we
//! build for, and its struct layout is the same everywhere.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Readable.
pub const POLLIN: i16 = 0x001;
/// Writable.
pub const POLLOUT: i16 = 0x004;
/// Error on the descriptor.
pub const POLLERR: i16 = 0x008;
/// Hung up.
pub const POLLHUP: i16 = 0x010;
/// Not an open descriptor.
pub const POLLNVAL: i16 = 0x020;

/// `struct pollfd` (identical on every Linux architecture).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PollFd {
    pub fd: RawFd,
    pub events: i16,
    pub revents: i16,
}

impl PollFd {
    pub fn new(fd: RawFd, events: i16) -> PollFd {
        PollFd {
            fd,
            events,
            revents: 0,
        }
    }
}

extern "C" {
    fn poll(fds: *mut PollFd, nfds: std::ffi::c_ulong, timeout: std::ffi::c_int)
        -> std::ffi::c_int;
    fn signal(signum: std::ffi::c_int, handler: extern "C" fn(std::ffi::c_int)) -> usize;
}

/// Waits until one of `fds` is ready or `timeout` passes; fills `revents`.
/// An interrupted wait (a signal) counts as a timeout.
pub fn wait(fds: &mut [PollFd], timeout: Duration) -> std::io::Result<usize> {
    let millis = timeout.as_millis().min(i32::MAX as u128) as std::ffi::c_int;
    // SAFETY: the pointer and length describe a live, exclusively borrowed
    // slice of `#[repr(C)]` pollfd structs; poll writes only `revents`.
    let n = unsafe { poll(fds.as_mut_ptr(), fds.len() as std::ffi::c_ulong, millis) };
    if n < 0 {
        let error = std::io::Error::last_os_error();
        if error.kind() == std::io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(error);
    }
    Ok(n as usize)
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: std::ffi::c_int) {
    // Only an atomic store: the one thing safe in a signal handler.
    STOP.store(true, Ordering::SeqCst);
}

const SIGINT: std::ffi::c_int = 2;
const SIGTERM: std::ffi::c_int = 15;

/// Makes SIGINT and SIGTERM set the stop flag instead of killing us, so
/// the peer can tell its trackers it is leaving.
pub fn catch_stop_signals() {
    // SAFETY: installs a handler that only stores to an atomic; the
    // signal numbers are the same on every Linux architecture.
    unsafe {
        signal(SIGINT, on_stop_signal);
        signal(SIGTERM, on_stop_signal);
    }
}

/// True once SIGINT or SIGTERM arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn poll_sees_a_readable_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut fds = [PollFd::new(listener.as_raw_fd(), POLLIN)];
        assert_eq!(wait(&mut fds, Duration::from_millis(10)).unwrap(), 0);
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.write_all(b"x").unwrap();
        assert_eq!(wait(&mut fds, Duration::from_secs(5)).unwrap(), 1);
        assert_ne!(fds[0].revents & POLLIN, 0);
    }
}
