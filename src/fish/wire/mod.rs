//! The BitTorrent peer wire, as a pure codec and a pure per-connection
//! state machine: bytes in, messages and actions out, no sockets here.
//!
//! - [`handshake`]: the 68-byte handshake and its feature bits.
//! - [`message`]: length-prefixed messages with a hard length cap.
//! - [`metadata`]: BEP 10 extension handshake and BEP 9 ut_metadata.
//! - [`session`]: what a metadata-only peer does with each of them.

pub mod handshake;
pub mod message;
pub mod metadata;
pub mod session;

use std::fmt;

pub use handshake::{Handshake, HANDSHAKE_LEN};
pub use message::{decode_frame, encode, Block, Frame, Message};
pub use session::{Action, CloseReason, Session, SessionConfig, Swarms, TimerDecision};

/// Why bytes from a peer are not acceptable BitTorrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The first bytes are not the BitTorrent handshake.
    NotBitTorrent,
    /// A length prefix larger than any message we accept or skip.
    TooLong { id: u8, len: usize },
    /// A message whose length does not fit its id.
    BadLength { id: u8, len: usize },
    /// The BEP 10 handshake dictionary is malformed.
    BadExtensionHandshake(String),
    /// A BEP 9 ut_metadata message is malformed.
    BadMetadataMessage(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::NotBitTorrent => f.write_str("not a BitTorrent handshake"),
            WireError::TooLong { id, len } => {
                write!(f, "message id {id} claims {len} bytes, more than allowed")
            }
            WireError::BadLength { id, len } => {
                write!(f, "message id {id} with impossible length {len}")
            }
            WireError::BadExtensionHandshake(why) => {
                write!(f, "bad extension handshake: {why}")
            }
            WireError::BadMetadataMessage(why) => write!(f, "bad ut_metadata message: {why}"),
        }
    }
}

impl std::error::Error for WireError {}
