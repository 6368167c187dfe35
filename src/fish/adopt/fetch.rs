//! Fetching one torrent's metadata from one peer (BEP 9), as a pure state
//! machine: bytes from the peer in, bytes to send and a verdict out.
//!
//! The wire itself (handshakes, framing, ut_metadata encoding) is the
//! serving peer's [`Session`], started as an outgoing connection that holds
//! nothing; this module adds what a fetcher must decide on top of it:
//!
//! 1. their handshake must name our info-hash and set the extension bit;
//! 2. their extension handshake must give a ut_metadata id and a
//!    metadata_size no larger than [`MAX_FETCH_METADATA`];
//! 3. pieces are asked for a few at a time, and only pieces we asked for
//!    are accepted, each with the announced total size and its exact
//!    length; a reject ends the attempt (that peer cannot help now);
//! 4. the assembled bytes must hash to the info-hash (SHA-1, or SHA-256
//!    cut to 20 bytes for a v2-only magnet), else the peer lied and is
//!    marked bad by the caller.
//!
//! The same fetch runs over a connection we dialled ([`MetadataFetch::start`])
//! and over one a peer opened to us ([`MetadataFetch::answering`]).
//!
//! The raw bytes are returned exactly as received: they are what hashes to
//! the info-hash, so they are written into the .torrent unchanged.

use std::fmt;

use crate::fish::wire::metadata::{piece_count, piece_range};
use crate::fish::wire::{Action, CloseReason, Session, SessionConfig, Swarms};
use crate::torrent::InfoHash;

/// The largest info dictionary we fetch. Real ones stay far below (a
/// 100 GB torrent with 16 MiB pieces has 120 KB of piece hashes); a peer
/// claiming more is refused before any memory is set aside.
pub const MAX_FETCH_METADATA: u32 = 16 * 1024 * 1024;

/// Metadata requests outstanding at once (libtorrent allows more; a few
/// keep a loopback fetch fast without a burst to a slow peer).
const REQUEST_WINDOW: usize = 4;

/// Why a peer could not give us the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The wire layer hung up: a protocol error, another info-hash, ourselves.
    Wire(CloseReason),
    /// Their handshake lacks the extension-protocol bit: no BEP 9 possible.
    NoExtensionProtocol,
    /// Their extension handshake names no ut_metadata id or no size: they
    /// do not have the metadata (yet).
    NoMetadata,
    /// They claim metadata larger than we accept.
    TooLarge(u32),
    /// A second extension handshake with another metadata size.
    SizeChanged { was: u32, now: u32 },
    /// A data message for a piece we did not ask for (or already have).
    UnrequestedPiece(u32),
    /// A data message whose total_size differs from the announced size.
    WrongTotalSize { piece: u32, claimed: u32, size: u32 },
    /// A data message whose length is not that piece's length.
    WrongPieceLength { piece: u32, got: usize, want: u32 },
    /// They refused a piece.
    Rejected(u32),
    /// All pieces arrived but they do not hash to the info-hash.
    HashMismatch(InfoHash),
    /// Bytes after the fetch was over (the caller's bug, not the peer's).
    Finished,
}

impl FetchError {
    /// True when the peer proved it serves wrong or broken data: never ask
    /// it again for this torrent. False for what may change (it has no
    /// metadata yet, it is busy).
    pub fn peer_is_bad(&self) -> bool {
        match self {
            FetchError::Wire(reason) => !matches!(
                reason,
                CloseReason::HandshakeTimeout | CloseReason::Idle | CloseReason::OwnPeerId
            ),
            FetchError::NoExtensionProtocol
            | FetchError::TooLarge(_)
            | FetchError::SizeChanged { .. }
            | FetchError::UnrequestedPiece(_)
            | FetchError::WrongTotalSize { .. }
            | FetchError::WrongPieceLength { .. }
            | FetchError::HashMismatch(_) => true,
            FetchError::NoMetadata | FetchError::Rejected(_) | FetchError::Finished => false,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Wire(reason) => write!(f, "{reason}"),
            FetchError::NoExtensionProtocol => {
                f.write_str("does not speak the extension protocol (BEP 10)")
            }
            FetchError::NoMetadata => f.write_str("has no metadata to give (no ut_metadata size)"),
            FetchError::TooLarge(size) => write!(
                f,
                "claims {size} bytes of metadata, more than the {MAX_FETCH_METADATA} we accept"
            ),
            FetchError::SizeChanged { was, now } => {
                write!(f, "changed its metadata size from {was} to {now}")
            }
            FetchError::UnrequestedPiece(p) => {
                write!(f, "sent metadata piece {p} we did not ask for")
            }
            FetchError::WrongTotalSize {
                piece,
                claimed,
                size,
            } => write!(
                f,
                "sent piece {piece} with total_size {claimed}, not the {size} it announced"
            ),
            FetchError::WrongPieceLength { piece, got, want } => {
                write!(f, "sent piece {piece} with {got} bytes, not {want}")
            }
            FetchError::Rejected(p) => write!(f, "refused metadata piece {p}"),
            FetchError::HashMismatch(got) => {
                write!(f, "sent metadata that hashes to {got}, not the info-hash")
            }
            FetchError::Finished => f.write_str("the fetch was already over"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Where a fetch stands after some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed (send what was appended to `out` first).
    Pending,
    /// The info dictionary, verified against the info-hash, as received.
    Done(Vec<u8>),
}

/// A session that holds no torrent: an outgoing fetch never consults it.
struct HoldsNothing;

impl Swarms for HoldsNothing {
    fn metadata_size(&self, _: &InfoHash) -> Option<u32> {
        None
    }
}

/// The state of fetching one torrent's metadata from one peer.
#[derive(Debug)]
pub struct MetadataFetch {
    session: Session,
    info_hash: InfoHash,
    /// Received bytes the session has not used yet (at most one message).
    inbox: Vec<u8>,
    /// The announced metadata size, once known.
    size: Option<u32>,
    /// Each piece, once received.
    pieces: Vec<Option<Vec<u8>>>,
    /// Pieces asked for and not yet received.
    outstanding: Vec<u32>,
    /// The next piece never asked for.
    next_request: u32,
    finished: bool,
}

impl MetadataFetch {
    /// Starts a fetch of `info_hash`'s metadata; send the returned bytes
    /// (our handshake) first.
    pub fn start(config: SessionConfig, info_hash: InfoHash) -> (MetadataFetch, Vec<u8>) {
        let (session, first) = Session::outgoing(config, info_hash, None);
        (MetadataFetch::over(session, info_hash), first)
    }

    /// Fetches `info_hash`'s metadata from a peer that dialled us about it:
    /// feed it everything the peer sent, its handshake included; our
    /// handshake goes out as the answer.
    pub fn answering(config: SessionConfig, info_hash: InfoHash) -> MetadataFetch {
        MetadataFetch::over(Session::answering(config, info_hash), info_hash)
    }

    fn over(session: Session, info_hash: InfoHash) -> MetadataFetch {
        MetadataFetch {
            session,
            info_hash,
            inbox: Vec::new(),
            size: None,
            pieces: Vec::new(),
            outstanding: Vec::new(),
            next_request: 0,
            finished: false,
        }
    }

    /// The wire session underneath (its timers, its info-hash).
    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The metadata size the peer announced, once known.
    pub fn size(&self) -> Option<u32> {
        self.size
    }

    /// Takes bytes received from the peer; appends what to send to `out`.
    /// An error ends the attempt (close the connection).
    pub fn receive(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<Progress, FetchError> {
        if self.finished {
            return Err(FetchError::Finished);
        }
        let result = self.receive_inner(bytes, out);
        if !matches!(result, Ok(Progress::Pending)) {
            self.finished = true;
            self.inbox = Vec::new();
        }
        result
    }

    fn receive_inner(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<Progress, FetchError> {
        self.inbox.extend_from_slice(bytes);
        let mut actions = Vec::new();
        let used = self.session.feed(&self.inbox, &HoldsNothing, &mut actions);
        self.inbox.drain(..used.min(self.inbox.len()));
        for action in actions {
            match action {
                Action::Send(bytes) => out.extend_from_slice(&bytes),
                Action::Established { .. } => {
                    if !self.session.peer_supports_extensions() {
                        return Err(FetchError::NoExtensionProtocol);
                    }
                }
                Action::PeerHasMetadata { size } => self.on_size(size, out)?,
                Action::MetadataPiece {
                    piece,
                    total_size,
                    data,
                } => {
                    if let Some(metadata) = self.on_piece(piece, total_size, data, out)? {
                        return Ok(Progress::Done(metadata));
                    }
                }
                Action::MetadataRejected { piece } => return Err(FetchError::Rejected(piece)),
                Action::Close(reason) => return Err(FetchError::Wire(reason)),
                // We hold nothing: the session refuses requests itself.
                Action::ServeMetadataPiece { .. } => {}
            }
        }
        if self.size.is_none() && self.session.peer_extension_handshake_received() {
            return Err(FetchError::NoMetadata);
        }
        Ok(Progress::Pending)
    }

    fn on_size(&mut self, size: u32, out: &mut Vec<u8>) -> Result<(), FetchError> {
        if let Some(was) = self.size {
            return if was == size {
                Ok(())
            } else {
                Err(FetchError::SizeChanged { was, now: size })
            };
        }
        if size > MAX_FETCH_METADATA {
            return Err(FetchError::TooLarge(size));
        }
        if !self.session.peer_serves_metadata() {
            return Err(FetchError::NoMetadata);
        }
        self.size = Some(size);
        self.pieces = vec![None; piece_count(size) as usize];
        self.request_more(out);
        Ok(())
    }

    fn request_more(&mut self, out: &mut Vec<u8>) {
        let count = self.pieces.len() as u32;
        while self.outstanding.len() < REQUEST_WINDOW && self.next_request < count {
            if let Some(bytes) = self.session.metadata_request(self.next_request) {
                out.extend_from_slice(&bytes);
            }
            self.outstanding.push(self.next_request);
            self.next_request += 1;
        }
    }

    fn on_piece(
        &mut self,
        piece: u32,
        total_size: u32,
        data: Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        let Some(size) = self.size else {
            return Err(FetchError::UnrequestedPiece(piece));
        };
        let Some(position) = self.outstanding.iter().position(|&p| p == piece) else {
            return Err(FetchError::UnrequestedPiece(piece));
        };
        if total_size != size {
            return Err(FetchError::WrongTotalSize {
                piece,
                claimed: total_size,
                size,
            });
        }
        let want = piece_range(size, piece).map_or(0, |r| r.end - r.start);
        if data.len() != want as usize {
            return Err(FetchError::WrongPieceLength {
                piece,
                got: data.len(),
                want,
            });
        }
        self.outstanding.swap_remove(position);
        let Some(slot) = self.pieces.get_mut(piece as usize) else {
            return Err(FetchError::UnrequestedPiece(piece));
        };
        *slot = Some(data);
        self.request_more(out);
        if !self.outstanding.is_empty() || self.pieces.iter().any(Option::is_none) {
            return Ok(None);
        }
        let metadata: Vec<u8> = std::mem::take(&mut self.pieces)
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        if !hashes_to(&metadata, &self.info_hash) {
            return Err(FetchError::HashMismatch(InfoHash::of_info_bytes(&metadata)));
        }
        Ok(Some(metadata))
    }
}

/// True when `info` is the info dictionary of `info_hash`: its SHA-1 (v1
/// and hybrid torrents), or its SHA-256 cut to 20 bytes, which is what a
/// v2-only magnet carries and v2 peers handshake with (BEP 52). A hybrid
/// magnet's full v2 hash is checked where the .torrent is written.
pub fn hashes_to(info: &[u8], info_hash: &InfoHash) -> bool {
    use sha2::{Digest, Sha256};
    if InfoHash::of_info_bytes(info) == *info_hash {
        return true;
    }
    let v2: [u8; 32] = Sha256::digest(info).into();
    crate::torrent::create::truncate_v2(&v2) == *info_hash.as_bytes()
}

#[cfg(test)]
mod tests;
