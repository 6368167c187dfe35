//! The few things std does not offer and lowspace needs: waiting on many
//! sockets at once (`poll(2)`), noticing SIGINT/SIGTERM, and a TCP
//! connection from a chosen local address (`--outgoing-interface`; std
//! cannot bind before it connects). All are declared straight against the
//! C library std already links (glibc or musl), so no crate is added; the
//! unsafe surface is these few calls. Also statfs(2): which file system
//! the download directory is on (whether it has sparse files).
//!
//! And reading a file through a memory mapping, for `tree` hashing what
//! the page cache holds without copying it ([`Mapped`]): a mapped file
//! that shrinks faults with SIGBUS, which must fail that file, not kill
//! the run, so a SIGBUS handler turns a fault inside the mapping a thread
//! is reading (and only that) into zeros and a void read. Why that is
//! safe is told at [`Mapped`] and the handler.
//!
//! Why poll and one thread: a Raspberry Pi has little memory, and a
//! thread per connection (even with small stacks) costs far more than a
//! `pollfd` per connection. poll is in every libc on every Linux target we
//! build for, and its struct layout is the same everywhere.

use std::ffi::{c_int, c_long, c_ulong, c_void};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
    fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int;
    fn bind(fd: c_int, addr: *const c_void, len: u32) -> c_int;
    fn connect(fd: c_int, addr: *const c_void, len: u32) -> c_int;
    fn getsockopt(fd: c_int, level: c_int, name: c_int, value: *mut c_void, len: *mut u32)
        -> c_int;
    fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int;
    fn syncfs(fd: c_int) -> c_int;
    // off_t is 64 bits on every target lowspace is built for (musl always,
    // glibc on 64-bit machines).
    fn posix_fadvise(fd: c_int, offset: i64, len: i64, advice: c_int) -> c_int;
    // Through syscall(2): preadv2's flags and cachestat are missing from
    // older C libraries (musl among them) though the kernel has them.
    fn syscall(number: c_long, ...) -> c_long;
    fn sysconf(name: c_int) -> c_long;
}

/// preadv2(2)'s number on each architecture lowspace is built for.
#[cfg(target_arch = "x86_64")]
const SYS_PREADV2: Option<c_long> = Some(327);
#[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
const SYS_PREADV2: Option<c_long> = Some(286);
#[cfg(target_arch = "arm")]
const SYS_PREADV2: Option<c_long> = Some(392);
#[cfg(target_arch = "x86")]
const SYS_PREADV2: Option<c_long> = Some(378);
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "arm",
    target_arch = "x86"
)))]
const SYS_PREADV2: Option<c_long> = None;
/// cachestat(2) (Linux 6.5) has one number on every architecture.
const SYS_CACHESTAT: c_long = 451;
/// preadv2: fail with EAGAIN rather than wait for the device.
const RWF_NOWAIT: c_long = 0x8;
/// sysconf's name for the page size (glibc and musl alike).
const SC_PAGESIZE: c_int = 30;

#[repr(C)]
struct IoVec {
    base: *mut c_void,
    len: usize,
}

#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// Whether every page of `len` bytes of `file` from `offset` is in the
/// page cache now (cachestat(2)); `None` when the kernel will not say
/// (before Linux 6.5; or a file the caller neither owns nor may write,
/// which recent kernels do not report on, as for mincore(2): seen on
/// 6.18).
pub fn in_page_cache(file: &std::fs::File, offset: u64, len: u64) -> Option<bool> {
    // SAFETY: no pointers; the C library reads a value it has.
    let page = unsafe { sysconf(SC_PAGESIZE) };
    let page = u64::try_from(page).ok().filter(|page| *page > 0)?;
    let Some(end) = offset.checked_add(len).filter(|_| len > 0) else {
        return Some(false);
    };
    let pages = end.div_ceil(page) - offset / page;
    let range = CachestatRange { off: offset, len };
    let mut stat = Cachestat::default();
    // SAFETY: a valid descriptor borrowed for the call, and two structs
    // laid out as the kernel's (five and two u64s on every architecture)
    // that outlive it.
    let result = unsafe {
        syscall(
            SYS_CACHESTAT,
            file.as_raw_fd() as c_long,
            &range as *const CachestatRange,
            &mut stat as *mut Cachestat,
            0 as c_long,
        )
    };
    (result == 0).then_some(stat.nr_cache >= pages)
}

/// Reads into `buf` from `offset` what the page cache holds, never waiting
/// for the device (preadv2 with RWF_NOWAIT): the bytes read (0 at the end
/// of the file), fewer than asked when the rest is not cached, or
/// `WouldBlock` when none of it is.
pub fn read_cached_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let Some(number) = SYS_PREADV2 else {
        return Err(std::io::ErrorKind::Unsupported.into());
    };
    let iov = IoVec {
        base: buf.as_mut_ptr().cast(),
        len: buf.len(),
    };
    // The kernel joins the offset from two longs (the high one is shifted
    // out on 64-bit machines), the same call on 32 and 64 bits.
    let (low, high) = (offset as c_ulong, (offset >> 32) as c_ulong);
    // SAFETY: a valid descriptor borrowed for the call and one iovec that
    // describes `buf`, both outliving it.
    let result = unsafe {
        syscall(
            number,
            file.as_raw_fd() as c_long,
            &iov as *const IoVec,
            1 as c_long,
            low,
            high,
            RWF_NOWAIT,
        )
    };
    usize::try_from(result).map_err(|_| std::io::Error::last_os_error())
}

/// Writes out every dirty page and inode of the file system `file` is on,
/// in one call: `tree` writes thousands of small .torrent files and makes
/// them durable together, where an fsync each would wait for the disk
/// thousands of times.
pub fn sync_file_system(file: &std::fs::File) -> std::io::Result<()> {
    // SAFETY: a valid descriptor, borrowed for the call.
    if unsafe { syncfs(file.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// What the kernel is told about how a file will be read
/// (`posix_fadvise`). The values are Linux's on every target lowspace is
/// built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
    /// Read once, front to back: read ahead further.
    Sequential = 2,
    /// Start reading this range now, without waiting for it.
    WillNeed = 3,
    /// Drop the cached pages (how tests make a file cold).
    #[cfg(test)]
    DontNeed = 4,
    /// Read once: the pages need not push others out of the cache.
    NoReuse = 5,
}

/// Gives `advice` about `len` bytes of `file` from `offset` (length 0:
/// to the end). Advice only: a failure changes nothing but speed, so it
/// is not reported.
pub fn advise(file: &std::fs::File, advice: Advice, offset: u64, len: u64) {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a valid descriptor, borrowed for the call.
    unsafe {
        posix_fadvise(file.as_raw_fd(), offset, len, advice as c_int);
    }
}

// Reading a file through a memory mapping (`tree` hashing what the page
// cache holds): see `Mapped`.

extern "C" {
    // off_t is 64 bits on every target lowspace is built for, as above.
    fn mmap(
        addr: *mut c_void,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        offset: i64,
    ) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
    fn sigaction(signum: c_int, act: *const SigAction, old: *mut SigAction) -> c_int;
}

// mmap and signal constants: the same on x86_64, aarch64 and arm Linux,
// in glibc and musl (checked against both C libraries' headers).
const PROT_READ: c_int = 1;
const MAP_SHARED: c_int = 0x01;
const MAP_PRIVATE: c_int = 0x02;
const MAP_FIXED: c_int = 0x10;
const MAP_ANONYMOUS: c_int = 0x20;
const SIGBUS: c_int = 7;
const SA_SIGINFO: c_int = 4;
const SA_ONSTACK: c_int = 0x0800_0000;
const SIG_DFL: usize = 0;

/// `struct sigaction` of glibc and musl on x86_64, aarch64 and arm (not
/// the kernel's): the handler, a 128-byte signal set, the flags, the
/// restorer (which the C library fills in). 152 bytes on 64-bit, 140 on
/// 32-bit ARM, as the two C libraries' headers say.
#[repr(C)]
#[derive(Clone, Copy)]
struct SigAction {
    handler: usize,
    mask: [c_ulong; 128 / std::mem::size_of::<c_ulong>()],
    flags: c_int,
    restorer: usize,
}

const _: () = assert!(
    std::mem::size_of::<SigAction>()
        == if cfg!(target_pointer_width = "64") {
            152
        } else {
            140
        }
);

/// The head of `siginfo_t`: three ints, then (aligned as a pointer) the
/// faulting address for SIGBUS and SIGSEGV. Only read, never made.
#[repr(C)]
struct SigInfo {
    signo: c_int,
    errno: c_int,
    /// Above 0 when the kernel raised the signal for a fault; 0 or below
    /// when a process sent it.
    code: c_int,
    addr: usize,
}

/// The mapping this thread is walking, for the SIGBUS handler. Atomics
/// (plain loads and stores here) with `compiler_fence`, so neither side
/// is optimised on the belief that the other cannot change it; a const
/// initialiser and no destructor, so the handler's access is a plain
/// thread-local read, with nothing allocated or registered lazily.
struct Guard {
    start: AtomicUsize,
    len: AtomicUsize,
    /// The handler put zeros over the mapping: what was read is void.
    faulted: AtomicBool,
}

thread_local! {
    static GUARD: Guard = const {
        Guard {
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            faulted: AtomicBool::new(false),
        }
    };
}

/// SIGBUS's disposition before ours, put back for a fault that is not
/// ours. Set once, before our handler is installed.
static PREVIOUS_BUS_ACTION: OnceLock<SigAction> = OnceLock::new();
/// Whether our handler is installed (tried once).
static BUS_HANDLER: OnceLock<bool> = OnceLock::new();
/// Faults in a guarded mapping survived so far (tests check the guard
/// was really exercised).
static BUS_FAULTS_CAUGHT: AtomicU64 = AtomicU64::new(0);

/// The SIGBUS handler. A fault inside the mapping this thread is walking
/// (`Mapped::read`), the first one: anonymous zero pages are mapped over
/// the whole of that mapping, so the faulting read resumes on zeros, and
/// the walk is marked void. Anything else (a fault elsewhere, a second
/// one, a SIGBUS sent by a process) puts back the disposition from
/// before us and returns: a fault then repeats and is handled as if we
/// were never there (the process dies, as before), never swallowed.
///
/// Async-signal-safe: atomics in a const thread-local, and mmap and
/// sigaction, which are system calls (musl's mmap may wait on its own
/// lock, which only a thread inside pthread_barrier or sem_open holds,
/// not this one in the middle of a hash).
extern "C" fn on_bus_error(_signal: c_int, info: *mut SigInfo, _context: *mut c_void) {
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t, whose
    // head `SigInfo` is; null is checked all the same.
    let (code, addr) = match unsafe { info.as_ref() } {
        Some(info) => (info.code, info.addr),
        None => (0, 0),
    };
    let ours = code > 0
        && GUARD
            .try_with(|guard| {
                let start = guard.start.load(Ordering::Relaxed);
                let len = guard.len.load(Ordering::Relaxed);
                let inside = len > 0 && addr >= start && addr - start < len;
                if !inside || guard.faulted.load(Ordering::Relaxed) {
                    return false;
                }
                // SAFETY: replaces exactly the mapping this thread is
                // walking (page-aligned, made by `Mapped::new`, unmapped
                // only by its drop, which cannot run while it is borrowed
                // by `read`) with readable zeros of the same size; no
                // other memory is touched.
                let zeros = unsafe {
                    mmap(
                        start as *mut c_void,
                        len,
                        PROT_READ,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                        -1,
                        0,
                    )
                };
                if zeros as usize != start {
                    return false;
                }
                guard.faulted.store(true, Ordering::Relaxed);
                true
            })
            .unwrap_or(false);
    if ours {
        BUS_FAULTS_CAUGHT.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let default = SigAction {
        handler: SIG_DFL,
        mask: [0; 128 / std::mem::size_of::<c_ulong>()],
        flags: 0,
        restorer: 0,
    };
    let previous = PREVIOUS_BUS_ACTION.get().unwrap_or(&default);
    // SAFETY: a valid sigaction struct that outlives the call.
    unsafe {
        sigaction(SIGBUS, previous, std::ptr::null_mut());
    }
}

/// Installs `on_bus_error` once; whether it is installed.
fn catch_bus_errors() -> bool {
    *BUS_HANDLER.get_or_init(|| {
        let mut previous = SigAction {
            handler: SIG_DFL,
            mask: [0; 128 / std::mem::size_of::<c_ulong>()],
            flags: 0,
            restorer: 0,
        };
        // SAFETY: reads the current disposition into a struct laid out as
        // the C library's (checked above), which outlives the call.
        if unsafe { sigaction(SIGBUS, std::ptr::null(), &mut previous) } != 0 {
            return false;
        }
        if PREVIOUS_BUS_ACTION.set(previous).is_err() {
            return false;
        }
        let ours = SigAction {
            handler: on_bus_error as extern "C" fn(c_int, *mut SigInfo, *mut c_void) as usize,
            mask: [0; 128 / std::mem::size_of::<c_ulong>()],
            // On the thread's alternate stack where it has one (std gives
            // each thread one, for its stack overflow message).
            flags: SA_SIGINFO | SA_ONSTACK,
            restorer: 0,
        };
        // SAFETY: installs a handler that is async-signal-safe (see
        // `on_bus_error`); the struct outlives the call.
        unsafe { sigaction(SIGBUS, &ours, std::ptr::null_mut()) == 0 }
    })
}

/// Faults caught in guarded mappings since the process started.
#[cfg(test)]
pub fn bus_faults_caught() -> u64 {
    BUS_FAULTS_CAUGHT.load(Ordering::Relaxed)
}

/// A read-only mapping of part of a file, read through a guard.
///
/// Why: hashing a file that is in the page cache through `read` costs the
/// kernel's copy into a buffer on top of the hash; hashing the cached
/// pages where they are does not. On a warm 1 GiB file on two cores that
/// was 0.71-0.76 CPU seconds through preadv2 against 0.68-0.72 through
/// mmap, next to 0.62 for SHA-1 alone (`openssl speed`, 1,648 MiB/s a
/// core).
///
/// Why the guard: a mapped file that is truncated while it is read makes
/// the read fault with SIGBUS, which kills the process; a file shrinking
/// under `tree` must fail alone. [`Mapped::read`] marks the mapping as
/// this thread's for the SIGBUS handler (`on_bus_error`), which turns the
/// first fault inside it into zeros and a void result, and leaves every
/// other SIGBUS as deadly as it was.
///
/// What the mapping cannot promise: bytes that do not change while they
/// are read. A file written to while it is hashed gives a hash of a mix
/// of old and new bytes, as `read` would (and the hash is only compared,
/// never trusted); one that shrinks is caught. A page evicted from the
/// cache since it was looked up is read from the device by the fault.
pub struct Mapped {
    /// The page-aligned start of the mapping, and its length.
    base: usize,
    map_len: usize,
    /// Where the asked-for bytes start in it, and how many.
    skip: usize,
    len: usize,
    /// A guarded read faulted: the mapping holds zeros now.
    void: bool,
}

impl Mapped {
    /// Maps `len` bytes of `file` from `offset` for reading. Fails where
    /// the file cannot be mapped (some file systems), the SIGBUS handler
    /// cannot be installed, or `len` is 0: read it instead.
    pub fn new(file: &std::fs::File, offset: u64, len: usize) -> std::io::Result<Mapped> {
        if len == 0 || !catch_bus_errors() {
            return Err(std::io::ErrorKind::Unsupported.into());
        }
        // SAFETY: no pointers; the C library reads a value it has.
        let page = unsafe { sysconf(SC_PAGESIZE) };
        let page = u64::try_from(page)
            .ok()
            .filter(|page| page.is_power_of_two())
            .ok_or(std::io::ErrorKind::Unsupported)?;
        let skip = offset % page;
        let start = i64::try_from(offset - skip).map_err(|_| std::io::ErrorKind::InvalidInput)?;
        let skip = usize::try_from(skip).map_err(|_| std::io::ErrorKind::InvalidInput)?;
        let map_len = len
            .checked_add(skip)
            .ok_or(std::io::ErrorKind::InvalidInput)?;
        // SAFETY: a new mapping wherever the kernel puts it (no address
        // given, no MAP_FIXED), of a descriptor borrowed for the call; the
        // mapping is owned by the `Mapped` returned and unmapped by its
        // drop.
        let base = unsafe {
            mmap(
                std::ptr::null_mut(),
                map_len,
                PROT_READ,
                MAP_SHARED,
                file.as_raw_fd(),
                start,
            )
        };
        if base as usize == usize::MAX {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapped {
            base: base as usize,
            map_len,
            skip,
            len,
            void: false,
        })
    }

    /// Calls `walk` with the mapped bytes, guarded: `None` when the file
    /// shrank under the mapping (or its pages could not be read) while
    /// `walk` ran, and then `walk` saw zeros from the fault on and what it
    /// made of them must be thrown away. `None` too inside another
    /// mapping's read on this thread (one guard per thread). `walk`
    /// cannot keep the bytes: they are borrowed for the call only. The
    /// guard covers this thread: bytes `walk` hands to another thread
    /// (a scoped one) fault there as deadly as ever.
    pub fn read<R>(&mut self, walk: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if self.void {
            return None;
        }
        let claimed = GUARD
            .try_with(|guard| {
                if guard.len.load(Ordering::Relaxed) != 0 {
                    return false;
                }
                guard.faulted.store(false, Ordering::Relaxed);
                guard.start.store(self.base, Ordering::Relaxed);
                guard.len.store(self.map_len, Ordering::Relaxed);
                true
            })
            .unwrap_or(false);
        if !claimed {
            return None;
        }
        /// Clears the guard however `walk` ends (a panic included).
        struct Release;
        impl Drop for Release {
            fn drop(&mut self) {
                compiler_fence(Ordering::SeqCst);
                let _ = GUARD.try_with(|guard| guard.len.store(0, Ordering::Relaxed));
            }
        }
        let release = Release;
        // The guard is set before any byte of the mapping is read.
        compiler_fence(Ordering::SeqCst);
        // SAFETY: `skip + len` bytes from `base` are mapped readable and
        // stay mapped until `self` drops, which the borrow of `self`
        // prevents while `walk` runs; `walk` cannot keep the slice (it is
        // borrowed for the call only). A page past the end of a file that
        // shrank faults, and the handler maps zeros over the whole mapping
        // before the read resumes, so every read returns a byte. That the
        // bytes may change under the slice (the file written to, the
        // zeros) is the caveat of any mapped file: they are only hashed,
        // and a hash of changed bytes is a wrong hash, never unsafety in
        // this process.
        let bytes =
            unsafe { std::slice::from_raw_parts((self.base + self.skip) as *const u8, self.len) };
        let out = walk(bytes);
        // Every byte is read before the guard is looked at.
        compiler_fence(Ordering::SeqCst);
        let faulted = GUARD
            .try_with(|guard| guard.faulted.load(Ordering::Relaxed))
            .unwrap_or(true);
        drop(release);
        if faulted {
            self.void = true;
            return None;
        }
        Some(out)
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping made by `new` (or the zeros the handler put
        // in its place, of the same range), which nothing borrows now.
        unsafe {
            munmap(self.base as *mut c_void, self.map_len);
        }
    }
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

// Socket constants: the same on x86_64, aarch64 and arm Linux (the
// targets we build for; MIPS and SPARC differ).
const AF_INET: c_int = 2;
const AF_INET6: c_int = 10;
const SOCK_STREAM: c_int = 1;
const SOCK_NONBLOCK: c_int = 0o4000;
const SOCK_CLOEXEC: c_int = 0o2000000;
const SOL_SOCKET: c_int = 1;
const SO_ERROR: c_int = 4;
const EINPROGRESS: i32 = 115;

/// `struct sockaddr_in`.
#[repr(C)]
struct SockaddrIn {
    family: u16,
    port_be: u16,
    addr: [u8; 4],
    zero: [u8; 8],
}

/// `struct sockaddr_in6`.
#[repr(C)]
struct SockaddrIn6 {
    family: u16,
    port_be: u16,
    flowinfo: u32,
    addr: [u8; 16],
    scope_id: u32,
}

/// A socket address in the C layout, kept alive while a call reads it.
enum CAddr {
    V4(SockaddrIn),
    V6(SockaddrIn6),
}

impl CAddr {
    fn new(addr: SocketAddr) -> CAddr {
        match addr {
            SocketAddr::V4(a) => CAddr::V4(SockaddrIn {
                family: AF_INET as u16,
                port_be: a.port().to_be(),
                addr: a.ip().octets(),
                zero: [0; 8],
            }),
            SocketAddr::V6(a) => CAddr::V6(SockaddrIn6 {
                family: AF_INET6 as u16,
                port_be: a.port().to_be(),
                flowinfo: a.flowinfo(),
                addr: a.ip().octets(),
                scope_id: a.scope_id(),
            }),
        }
    }

    fn as_ptr(&self) -> (*const c_void, u32) {
        match self {
            CAddr::V4(a) => (
                a as *const SockaddrIn as *const c_void,
                std::mem::size_of::<SockaddrIn>() as u32,
            ),
            CAddr::V6(a) => (
                a as *const SockaddrIn6 as *const c_void,
                std::mem::size_of::<SockaddrIn6>() as u32,
            ),
        }
    }
}

/// Connects to `peer` like `TcpStream::connect_timeout`, but from `local`
/// when one is given (the address of the interface to send from; the port
/// is left to the system). The stream returned is blocking, as std's are.
pub fn connect_from(
    local: Option<IpAddr>,
    peer: &SocketAddr,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let Some(local) = local else {
        return TcpStream::connect_timeout(peer, timeout);
    };
    if local.is_ipv4() != peer.is_ipv4() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("cannot reach {peer} from {local}: not the same IP version"),
        ));
    }
    let domain = if peer.is_ipv4() { AF_INET } else { AF_INET6 };
    // SAFETY: plain system call; the descriptor is owned at once below.
    let raw = unsafe { socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns; OwnedFd closes
    // it on every early return.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let here = CAddr::new(SocketAddr::new(local, 0));
    let (ptr, len) = here.as_ptr();
    // SAFETY: ptr/len describe `here`, alive for the call.
    if unsafe { bind(fd.as_raw_fd(), ptr, len) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(std::io::Error::new(
            e.kind(),
            format!("cannot send from {local}: {e}"),
        ));
    }
    let there = CAddr::new(*peer);
    let (ptr, len) = there.as_ptr();
    // SAFETY: as above.
    if unsafe { connect(fd.as_raw_fd(), ptr, len) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(EINPROGRESS) {
            return Err(e);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connection timed out",
                ));
            }
            let mut fds = [PollFd::new(fd.as_raw_fd(), POLLOUT)];
            if wait(&mut fds, left)? > 0 {
                break;
            }
        }
        let mut error: c_int = 0;
        let mut size = std::mem::size_of::<c_int>() as u32;
        // SAFETY: value/len point at a live c_int and its size.
        let got = unsafe {
            getsockopt(
                fd.as_raw_fd(),
                SOL_SOCKET,
                SO_ERROR,
                &mut error as *mut c_int as *mut c_void,
                &mut size,
            )
        };
        if got != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if error != 0 {
            return Err(std::io::Error::from_raw_os_error(error));
        }
    }
    let stream = TcpStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

const SOCK_DGRAM: c_int = 2;
const IPPROTO_IPV6: c_int = 41;
const IPV6_V6ONLY: c_int = 26;

/// A UDP socket on an IPv6 address that receives IPv6 only (IPV6_V6ONLY
/// set before bind), so an IPv4 socket can share its port: `::` would
/// otherwise take the IPv4 port too. Blocking, as std's are.
pub fn udp_bind_v6_only(addr: std::net::SocketAddrV6) -> std::io::Result<std::net::UdpSocket> {
    // SAFETY: plain system call; the descriptor is owned at once below.
    let raw = unsafe { socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let on: c_int = 1;
    // SAFETY: value/len describe a live c_int.
    let set = unsafe {
        setsockopt(
            fd.as_raw_fd(),
            IPPROTO_IPV6,
            IPV6_V6ONLY,
            &on as *const c_int as *const c_void,
            std::mem::size_of::<c_int>() as u32,
        )
    };
    if set != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let here = CAddr::new(SocketAddr::V6(addr));
    let (ptr, len) = here.as_ptr();
    // SAFETY: ptr/len describe `here`, alive for the call.
    if unsafe { bind(fd.as_raw_fd(), ptr, len) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(std::net::UdpSocket::from(fd))
}

/// Bytes this process has read, as the kernel counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IoCounters {
    /// Every byte read() returned: files, pipes and sockets alike.
    pub rchar: u64,
    /// Bytes fetched from storage (0 for what the page cache held).
    pub read_bytes: u64,
}

/// Parses /proc/PID/io (`rchar: N` lines and others).
pub fn parse_proc_io(text: &str) -> Result<IoCounters, String> {
    let field = |name: &str| -> Result<u64, String> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .ok_or_else(|| format!("no {name} line"))?;
        line.trim()
            .parse()
            .map_err(|_| format!("{name} is {:?}, not a number", line.trim()))
    };
    Ok(IoCounters {
        rchar: field("rchar")?,
        read_bytes: field("read_bytes")?,
    })
}

/// This process's counters; None where /proc/self/io is missing (not
/// Linux, or a kernel without task I/O accounting).
pub fn self_io() -> Option<IoCounters> {
    let text = std::fs::read_to_string("/proc/self/io").ok()?;
    parse_proc_io(&text).ok()
}

/// 20 unpredictable bytes (DHT node ids, token secrets, peer ids), from
/// the kernel; should /dev/urandom be missing, a SHA-1 of the time, the
/// PID and a stack address, which is unique if not secret.
pub fn random_bytes() -> [u8; 20] {
    let mut out = [0u8; 20];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut out));
    if read.is_err() {
        use sha1::Digest as _;
        let mut hasher = sha1::Sha1::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        hasher.update(now.to_le_bytes());
        hasher.update(std::process::id().to_le_bytes());
        hasher.update((&out as *const _ as usize).to_le_bytes());
        out = hasher.finalize().into();
    }
    out
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

extern "C" {
    #[link_name = "statfs"]
    fn statfs_raw(path: *const std::ffi::c_char, buf: *mut c_void) -> c_int;
}

/// The file system type (`f_type`, a magic number) and block size
/// (`f_bsize`) of the file system holding `path`, from statfs(2).
pub fn file_system(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // `struct statfs` starts with f_type then f_bsize, each a C long (or
    // unsigned long) in glibc and musl on every target we build for; the
    // whole struct is at most 120 bytes, so 512 zeroed bytes hold it.
    let mut buf = [0 as std::ffi::c_ulong; 512 / std::mem::size_of::<std::ffi::c_ulong>()];
    // SAFETY: a NUL-terminated path and a writable, aligned buffer larger
    // than any `struct statfs`.
    let rc = unsafe { statfs_raw(c_path.as_ptr(), buf.as_mut_ptr().cast()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // f_type is signed on some targets: keep its 32 low bits, where every
    // magic number lies.
    // c_ulong is u64 here but u32 on 32-bit ARM.
    #[allow(clippy::useless_conversion)]
    let block = u64::from(buf[1]);
    Ok((u64::from(buf[0] as u32), block))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's version as (major, minor).
    fn kernel() -> (u32, u32) {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut parts = release.split(|c: char| !c.is_ascii_digit());
        let major = parts.next().unwrap().parse().unwrap();
        (major, parts.next().unwrap().parse().unwrap())
    }

    #[test]
    fn reads_what_the_page_cache_holds() {
        let dir = std::env::temp_dir().join(format!("lowspace-sys-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let data: Vec<u8> = (0..300_000u32).map(|n| (n % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // Just written: every page is cached (cachestat is Linux 6.5).
        if kernel() >= (6, 5) {
            assert_eq!(in_page_cache(&file, 0, data.len() as u64), Some(true));
            assert_eq!(in_page_cache(&file, 100_000, 1), Some(true));
            // Past the end there is nothing to cache.
            assert_eq!(in_page_cache(&file, 1 << 30, 4096), Some(false));
        }
        assert_ne!(in_page_cache(&file, 0, 0), Some(true));
        let mut buf = vec![0u8; 70_000];
        let mut got = Vec::new();
        loop {
            let n = read_cached_at(&file, &mut buf, got.len() as u64).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, data);
        // Written out and dropped from the cache: nothing to read without
        // the device.
        file.sync_all().unwrap();
        std::fs::File::open(&path).unwrap().sync_all().unwrap();
        advise(&file, Advice::DontNeed, 0, 0);
        if kernel() >= (6, 5) {
            assert_eq!(in_page_cache(&file, 0, data.len() as u64), Some(false));
        }
        assert_eq!(
            read_cached_at(&file, &mut buf, 0).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A file of `len` bytes of a pattern, and the pattern.
    fn patterned(dir: &std::path::Path, name: &str, len: usize) -> (std::path::PathBuf, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|n| (n * 7 % 253) as u8).collect();
        let path = dir.join(name);
        std::fs::write(&path, &data).unwrap();
        (path, data)
    }

    #[test]
    fn a_mapping_reads_the_file_and_one_that_shrinks_reads_void() {
        let dir = std::env::temp_dir().join(format!("lowspace-sys-map-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (path, data) = patterned(&dir, "f", 2 << 20);
        let file = std::fs::File::open(&path).unwrap();
        // Not on a page boundary, and to the last byte.
        let mut mapped = Mapped::new(&file, 4097, data.len() - 4097).unwrap();
        assert_eq!(mapped.read(|bytes| bytes.to_vec()).unwrap(), data[4097..]);
        assert!(Mapped::new(&file, 0, 0).is_err());

        let caught = bus_faults_caught();
        let writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        // Cut to half under a mapping of the whole: the walk meets the
        // end, the process lives, the read is void (and stays so).
        let mut whole = Mapped::new(&file, 0, data.len()).unwrap();
        let mut front = Mapped::new(&file, 0, 1 << 20).unwrap();
        writer.set_len(1 << 20).unwrap();
        let mut seen = 0;
        let walk = |bytes: &[u8]| {
            seen = bytes.len();
            bytes.iter().map(|b| u64::from(*b)).sum::<u64>()
        };
        assert_eq!(whole.read(walk), None);
        assert_eq!(seen, data.len(), "the walk ran to the end, on zeros");
        assert_eq!(whole.read(|bytes| bytes.len()), None);
        // What is still in the file reads as it was.
        assert_eq!(front.read(|bytes| bytes == &data[..1 << 20]), Some(true));
        // Cut to nothing: the first byte faults.
        writer.set_len(0).unwrap();
        assert_eq!(
            front.read(|bytes| bytes.iter().map(|b| *b as u64).sum::<u64>()),
            None
        );
        assert!(bus_faults_caught() >= caught + 2);
        // A new mapping on this thread is guarded again.
        std::fs::write(&path, &data).unwrap();
        let mut again = Mapped::new(&file, 0, data.len()).unwrap();
        assert_eq!(again.read(|bytes| bytes == data), Some(true));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Runs `child`'s body in a copy of this test binary, which must die
    /// of SIGBUS: a fault the guard does not cover is as deadly as ever.
    fn dies_of_sigbus(test: &str, mode: &str) {
        use std::os::unix::process::ExitStatusExt;
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env("LOWSPACE_SIGBUS_CHILD", mode)
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(SIGBUS),
            "{mode}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// In the child: a mapping of a file cut to nothing, and a fault on it
    /// outside any guard, or inside another mapping's guard.
    fn fault_outside_the_guard(mode: &str) {
        let dir = std::env::temp_dir().join(format!("lowspace-sys-bus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (path, _) = patterned(&dir, "f", 1 << 20);
        let (other, _) = patterned(&dir, "g", 1 << 20);
        let file = std::fs::File::open(&path).unwrap();
        let other = std::fs::File::open(&other).unwrap();
        let mut guarded = Mapped::new(&other, 0, 1 << 20).unwrap();
        // The handler is installed and has worked once.
        assert_eq!(guarded.read(|b| b.len()), Some(1 << 20));
        let cut = Mapped::new(&file, 0, 1 << 20).unwrap();
        std::fs::File::create(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        // SAFETY (test): reads a byte of a live mapping, meant to fault.
        let touch = || unsafe { std::ptr::read_volatile((cut.base + 100) as *const u8) };
        match mode {
            "unguarded" => println!("read {}", touch()),
            _ => println!("read {:?}", guarded.read(|_| touch())),
        }
    }

    #[test]
    fn a_bus_error_outside_the_guard_still_kills() {
        if let Ok(mode) = std::env::var("LOWSPACE_SIGBUS_CHILD") {
            fault_outside_the_guard(&mode);
            return;
        }
        let me = "sys::tests::a_bus_error_outside_the_guard_still_kills";
        dies_of_sigbus(me, "unguarded");
        dies_of_sigbus(me, "another mapping's guard");
    }

    #[test]
    fn the_file_system_of_a_path() {
        let (magic, block) = file_system(std::path::Path::new("/proc")).unwrap();
        assert_eq!(magic, 0x9FA0, "procfs");
        assert!(block > 0);
        let e = file_system(std::path::Path::new("/no/such/dir")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn proc_io_fields_and_errors() {
        let text = "rchar: 12345\nwchar: 9\nsyscr: 3\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: 0\ncancelled_write_bytes: 0\n";
        assert_eq!(
            parse_proc_io(text),
            Ok(IoCounters {
                rchar: 12345,
                read_bytes: 4096
            })
        );
        assert!(parse_proc_io("wchar: 1\n")
            .unwrap_err()
            .contains("no rchar"));
        assert!(parse_proc_io("rchar: x\nread_bytes: 1\n")
            .unwrap_err()
            .contains("rchar is \"x\""));
        assert!(self_io().is_some_and(|io| io.rchar > 0));
    }

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

    /// Linux routes all of 127.0.0.0/8 to loopback, so 127.0.0.2 is an
    /// address of this machine a test can send from.
    #[test]
    fn connects_from_the_chosen_address() {
        let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let local: IpAddr = "127.0.0.2".parse().unwrap();
        let mut stream = connect_from(Some(local), &peer, Duration::from_secs(5)).unwrap();
        let (mut accepted, from) = listener.accept().unwrap();
        assert_eq!(from.ip(), local);
        stream.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        std::io::Read::read_exact(&mut accepted, &mut got).unwrap();
        assert_eq!(&got, b"ping");
        // Blocking, as std's streams are: a read timeout means a timeout.
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut one = [0u8; 1];
        let e = std::io::Read::read(&mut stream, &mut one).unwrap_err();
        assert!(matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ));
    }

    #[test]
    fn connect_from_reports_refusals_and_impossible_sources() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let refused = connect_from(
            Some("127.0.0.1".parse().unwrap()),
            &closed,
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        let foreign = connect_from(
            Some("192.0.2.1".parse().unwrap()),
            &closed,
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(
            foreign.to_string().contains("cannot send from 192.0.2.1"),
            "{foreign}"
        );
        let mixed = connect_from(
            Some("::1".parse().unwrap()),
            &closed,
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert_eq!(mixed.kind(), std::io::ErrorKind::InvalidInput);
    }
}
