//! One peer connection of the metadata-only peer, as a pure state machine.
//!
//! The shell hands it the bytes received so far; it answers with how many
//! it used and a list of [`Action`]s (bytes to send, a metadata piece to
//! read from disk, a reason to hang up). Read top to bottom, `on_message`
//! is the protocol as we speak it:
//!
//! 1. Handshake. Incoming: wait for theirs, refuse unknown info-hashes and
//!    ourselves, then answer. Outgoing: ours goes first, theirs must name
//!    the same info-hash. Answering (an incoming peer of a magnet we are
//!    adopting): theirs must name that info-hash, then we answer holding
//!    nothing.
//! 2. Right after: our extension handshake (ut_metadata, metadata_size)
//!    when they speak BEP 10, `have_none` when they speak BEP 6, our DHT
//!    port when both run a DHT.
//! 3. Then: ut_metadata requests are served (or rejected when out of
//!    range); piece requests are rejected (fast) or ignored (we never
//!    unchoke); everything else is noted or ignored.
//! 4. Misbehaviour closes: wire errors, floods of requests.

use std::fmt;
use std::time::Duration;

use super::handshake::Handshake;
use super::message::{decode_frame, encode, Frame, Message};
use super::metadata::{
    decode_extension_handshake, decode_metadata_message, encode_extension_handshake,
    encode_metadata_message, piece_count, piece_range, MetadataMessage, OUR_UT_METADATA_ID,
};
use super::WireError;
use crate::torrent::InfoHash;

/// Who we are on the wire.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    pub peer_id: [u8; 20],
    /// Our TCP listen port, told to peers in the extension handshake.
    pub listen_port: u16,
    /// Our DHT node's UDP port, when we run one (sent in a PORT message).
    pub dht_port: Option<u16>,
}

/// What the session needs to know about the torrents we serve.
pub trait Swarms {
    /// The size of the info dictionary of a torrent we hold, or None when
    /// we do not hold it.
    fn metadata_size(&self, info_hash: &InfoHash) -> Option<u32>;
}

/// Something the shell must do for this connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes to the peer.
    Send(Vec<u8>),
    /// Both handshakes are done for this torrent.
    Established { info_hash: InfoHash },
    /// Read metadata piece `piece` from the torrent file and send it with
    /// [`Session::metadata_piece`] (or [`Session::metadata_reject`]).
    ServeMetadataPiece { piece: u32 },
    /// The peer's extension handshake named a metadata size (fetching).
    PeerHasMetadata { size: u32 },
    /// A metadata piece we asked for (fetching).
    MetadataPiece {
        piece: u32,
        total_size: u32,
        data: Vec<u8>,
    },
    /// The peer refused a metadata piece (fetching).
    MetadataRejected { piece: u32 },
    /// Hang up.
    Close(CloseReason),
}

/// Why a connection is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    Wire(WireError),
    UnknownTorrent(InfoHash),
    WrongInfoHash(InfoHash),
    OwnPeerId,
    TooManyRequests,
    HandshakeTimeout,
    Idle,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Wire(e) => write!(f, "protocol error: {e}"),
            CloseReason::UnknownTorrent(h) => write!(f, "asked for a torrent we do not hold ({h})"),
            CloseReason::WrongInfoHash(h) => write!(f, "answered with another info-hash ({h})"),
            CloseReason::OwnPeerId => f.write_str("that is ourselves (our own peer id)"),
            CloseReason::TooManyRequests => f.write_str("too many requests"),
            CloseReason::HandshakeTimeout => f.write_str("no handshake in time"),
            CloseReason::Idle => f.write_str("silent for too long"),
        }
    }
}

/// How long a peer has to send its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// A peer silent this long is gone (they keep-alive every two minutes).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(200);
/// We send a keep-alive when we have been silent this long.
pub const KEEPALIVE_AFTER: Duration = Duration::from_secs(90);
/// Piece requests (never served) tolerated before we hang up.
const MAX_PIECE_REQUESTS: u32 = 2000;

/// What the clock says to do with a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerDecision {
    Nothing,
    KeepAlive,
    Close(CloseReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the peer's handshake.
    Handshake,
    /// Exchanging messages about `info_hash`.
    Messages,
}

/// The state of one connection.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    phase: Phase,
    /// Set once the torrent is known (at once for outgoing connections).
    info_hash: Option<InfoHash>,
    /// The info dictionary size when we hold the torrent.
    metadata_size: Option<u32>,
    /// Bytes of an oversized message still to discard.
    skipping: usize,
    peer_fast: bool,
    peer_extensions: bool,
    peer_ut_metadata: Option<u8>,
    /// The peer's BEP 10 handshake arrived (fetching: a peer that sent
    /// one without metadata has none to give).
    peer_extension_handshake: bool,
    /// `yourip` from the peer's extension handshake, until taken.
    peer_yourip: Option<std::net::IpAddr>,
    metadata_requests: u32,
    piece_requests: u32,
    /// Our handshake is still owed (the peer dialled us).
    must_answer: bool,
}

impl Session {
    /// A peer dialled us: wait for its handshake.
    pub fn incoming(config: SessionConfig) -> Session {
        let mut session = Session::new(config, Phase::Handshake, None, None);
        session.must_answer = true;
        session
    }

    /// A peer dialled us about `info_hash`, whose metadata we do not have
    /// (a magnet being adopted): its handshake must name that torrent, and
    /// ours answers without claiming any metadata.
    pub fn answering(config: SessionConfig, info_hash: InfoHash) -> Session {
        let mut session = Session::new(config, Phase::Handshake, Some(info_hash), None);
        session.must_answer = true;
        session
    }

    /// We dial a peer about `info_hash`; send the returned bytes first.
    pub fn outgoing(
        config: SessionConfig,
        info_hash: InfoHash,
        metadata_size: Option<u32>,
    ) -> (Session, Vec<u8>) {
        let session = Session::new(config, Phase::Handshake, Some(info_hash), metadata_size);
        let first = session.our_handshake(info_hash).encode().to_vec();
        (session, first)
    }

    fn new(
        config: SessionConfig,
        phase: Phase,
        info_hash: Option<InfoHash>,
        metadata_size: Option<u32>,
    ) -> Session {
        Session {
            config,
            phase,
            info_hash,
            metadata_size,
            skipping: 0,
            peer_fast: false,
            peer_extensions: false,
            peer_ut_metadata: None,
            peer_extension_handshake: false,
            peer_yourip: None,
            metadata_requests: 0,
            piece_requests: 0,
            must_answer: false,
        }
    }

    fn our_handshake(&self, info_hash: InfoHash) -> Handshake {
        Handshake::ours(
            info_hash,
            self.config.peer_id,
            self.config.dht_port.is_some(),
        )
    }

    /// The torrent this connection is about, once known.
    pub fn info_hash(&self) -> Option<InfoHash> {
        self.info_hash
    }

    /// True once both handshakes are through.
    pub fn is_established(&self) -> bool {
        self.phase == Phase::Messages
    }

    /// The address the peer said it sees us at (BEP 10 `yourip`), once.
    pub fn take_yourip(&mut self) -> Option<std::net::IpAddr> {
        self.peer_yourip.take()
    }

    /// True when the peer can be asked for metadata (fetching).
    pub fn peer_serves_metadata(&self) -> bool {
        self.peer_ut_metadata.is_some()
    }

    /// True when the peer's handshake set the extension-protocol bit.
    pub fn peer_supports_extensions(&self) -> bool {
        self.peer_extensions
    }

    /// True once the peer's BEP 10 extension handshake arrived.
    pub fn peer_extension_handshake_received(&self) -> bool {
        self.peer_extension_handshake
    }

    /// Consumes what it can of `input` (bytes received, oldest first) and
    /// returns how many bytes it used. Stops at the first `Close`.
    pub fn feed(&mut self, input: &[u8], swarms: &dyn Swarms, actions: &mut Vec<Action>) -> usize {
        let mut used = 0;
        loop {
            let rest = input.get(used..).unwrap_or(&[]);
            if self.skipping > 0 {
                let n = self.skipping.min(rest.len());
                self.skipping -= n;
                used += n;
                if self.skipping > 0 {
                    return used;
                }
                continue;
            }
            let step = match self.phase {
                Phase::Handshake => self.on_handshake_bytes(rest, swarms, actions),
                Phase::Messages => self.on_message_bytes(rest, actions),
            };
            match step {
                Ok(0) => return used,
                Ok(n) => used += n,
                Err(reason) => {
                    actions.push(Action::Close(reason));
                    return used;
                }
            }
            if matches!(actions.last(), Some(Action::Close(_))) {
                return used;
            }
        }
    }

    fn on_handshake_bytes(
        &mut self,
        input: &[u8],
        swarms: &dyn Swarms,
        actions: &mut Vec<Action>,
    ) -> Result<usize, CloseReason> {
        let Some(theirs) = Handshake::decode(input).map_err(CloseReason::Wire)? else {
            return Ok(0);
        };
        if theirs.peer_id == self.config.peer_id {
            return Err(CloseReason::OwnPeerId);
        }
        match self.info_hash {
            Some(expected) if expected != theirs.info_hash => {
                return Err(CloseReason::WrongInfoHash(theirs.info_hash));
            }
            Some(_) => {}
            None => {
                let size = swarms
                    .metadata_size(&theirs.info_hash)
                    .ok_or(CloseReason::UnknownTorrent(theirs.info_hash))?;
                self.info_hash = Some(theirs.info_hash);
                self.metadata_size = Some(size);
            }
        }
        if self.must_answer {
            self.must_answer = false;
            actions.push(Action::Send(
                self.our_handshake(theirs.info_hash).encode().to_vec(),
            ));
        }
        self.phase = Phase::Messages;
        self.peer_fast = theirs.supports_fast();
        self.peer_extensions = theirs.supports_extensions();
        actions.push(Action::Established {
            info_hash: theirs.info_hash,
        });

        let mut greeting = Vec::new();
        if self.peer_extensions {
            let payload = encode_extension_handshake(self.metadata_size, self.config.listen_port);
            encode(
                &Message::Extended {
                    id: 0,
                    payload: &payload,
                },
                &mut greeting,
            );
        }
        if self.peer_fast {
            encode(&Message::HaveNone, &mut greeting);
        }
        if let (Some(port), true) = (self.config.dht_port, theirs.supports_dht()) {
            encode(&Message::Port(port), &mut greeting);
        }
        if !greeting.is_empty() {
            actions.push(Action::Send(greeting));
        }
        Ok(super::HANDSHAKE_LEN)
    }

    fn on_message_bytes(
        &mut self,
        input: &[u8],
        actions: &mut Vec<Action>,
    ) -> Result<usize, CloseReason> {
        match decode_frame(input).map_err(CloseReason::Wire)? {
            Frame::Incomplete => Ok(0),
            Frame::Skip { len, .. } => {
                self.skipping = len;
                Ok(self.take_skip(input.len()))
            }
            Frame::Message(message, used) => {
                self.on_message(message, actions)?;
                Ok(used)
            }
        }
    }

    /// Starts discarding an oversized message; returns the bytes of it
    /// already in the buffer.
    fn take_skip(&mut self, available: usize) -> usize {
        let n = self.skipping.min(available);
        self.skipping -= n;
        n
    }

    /// The protocol, message by message.
    fn on_message(
        &mut self,
        message: Message,
        actions: &mut Vec<Action>,
    ) -> Result<(), CloseReason> {
        match message {
            Message::Request(block) => {
                // We hold no piece data and never unchoke: refuse (BEP 6)
                // or, without the fast extension, let the choke speak.
                self.piece_requests += 1;
                if self.piece_requests > MAX_PIECE_REQUESTS {
                    return Err(CloseReason::TooManyRequests);
                }
                if self.peer_fast {
                    let mut out = Vec::new();
                    encode(&Message::RejectRequest(block), &mut out);
                    actions.push(Action::Send(out));
                }
            }
            Message::Extended { id: 0, payload } => {
                let theirs = decode_extension_handshake(payload).map_err(CloseReason::Wire)?;
                self.peer_ut_metadata = theirs.ut_metadata;
                self.peer_extension_handshake = true;
                self.peer_yourip = theirs.yourip;
                if let (Some(size), None) = (theirs.metadata_size, self.metadata_size) {
                    actions.push(Action::PeerHasMetadata { size });
                }
            }
            Message::Extended {
                id: OUR_UT_METADATA_ID,
                payload,
            } => self.on_metadata_message(payload, actions)?,
            // Everything else (have, bitfield, interest, choke, pex, ...)
            // changes nothing for a peer that neither downloads nor uploads.
            _ => {}
        }
        Ok(())
    }

    fn on_metadata_message(
        &mut self,
        payload: &[u8],
        actions: &mut Vec<Action>,
    ) -> Result<(), CloseReason> {
        match decode_metadata_message(payload).map_err(CloseReason::Wire)? {
            MetadataMessage::Request { piece } => {
                self.metadata_requests += 1;
                // Each piece a few times over is generous; more is a loop
                // or an attack.
                let allowed = self
                    .metadata_size
                    .map_or(16, |size| piece_count(size).saturating_mul(4) + 16);
                if self.metadata_requests > allowed {
                    return Err(CloseReason::TooManyRequests);
                }
                let in_range = self
                    .metadata_size
                    .is_some_and(|size| piece_range(size, piece).is_some());
                if in_range && self.peer_ut_metadata.is_some() {
                    actions.push(Action::ServeMetadataPiece { piece });
                } else if let Some(reject) = self.metadata_reject(piece) {
                    actions.push(Action::Send(reject));
                }
            }
            MetadataMessage::Data {
                piece,
                total_size,
                data,
            } => actions.push(Action::MetadataPiece {
                piece,
                total_size,
                data: data.to_vec(),
            }),
            MetadataMessage::Reject { piece } => actions.push(Action::MetadataRejected { piece }),
        }
        Ok(())
    }

    fn extended(&self, message: &MetadataMessage) -> Option<Vec<u8>> {
        let id = self.peer_ut_metadata?;
        let payload = encode_metadata_message(message);
        let mut out = Vec::with_capacity(payload.len() + 6);
        encode(
            &Message::Extended {
                id,
                payload: &payload,
            },
            &mut out,
        );
        Some(out)
    }

    /// The message carrying metadata piece `piece` (its bytes `data`, read
    /// from the torrent file by the shell).
    pub fn metadata_piece(&self, piece: u32, data: &[u8]) -> Option<Vec<u8>> {
        let total_size = self.metadata_size?;
        self.extended(&MetadataMessage::Data {
            piece,
            total_size,
            data,
        })
    }

    /// The message refusing metadata piece `piece`.
    pub fn metadata_reject(&self, piece: u32) -> Option<Vec<u8>> {
        self.extended(&MetadataMessage::Reject { piece })
    }

    /// The message asking the peer for metadata piece `piece` (fetching).
    pub fn metadata_request(&self, piece: u32) -> Option<Vec<u8>> {
        self.extended(&MetadataMessage::Request { piece })
    }

    /// What to do given the connection's age and how long the peer and we
    /// have been silent. The handshake deadline counts from the start, so
    /// a peer dribbling a byte at a time cannot hold a slot.
    pub fn timer(
        &self,
        age: Duration,
        since_received: Duration,
        since_sent: Duration,
    ) -> TimerDecision {
        match self.phase {
            Phase::Handshake if age >= HANDSHAKE_TIMEOUT => {
                TimerDecision::Close(CloseReason::HandshakeTimeout)
            }
            Phase::Handshake => TimerDecision::Nothing,
            Phase::Messages if since_received >= IDLE_TIMEOUT => {
                TimerDecision::Close(CloseReason::Idle)
            }
            Phase::Messages if since_sent >= KEEPALIVE_AFTER => TimerDecision::KeepAlive,
            Phase::Messages => TimerDecision::Nothing,
        }
    }
}

#[cfg(test)]
mod tests;
