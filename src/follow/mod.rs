//! `lowspace follow`: make a torrent client hold exactly what a published
//! listing holds, so several boxes keep the same data and any of them can
//! become the main one.
//!
//! - [`listing`]: the pure parser for `tree`'s index.txt and for plain
//!   lists of torrent URLs and magnet links.
//! - [`diff`]: the pure plan (add / remove / keep) and its safety rules:
//!   only labelled torrents are removed, and only after a complete listing.
//! - [`crate::client::follow`]: the small trait over the four clients
//!   (rtorrent, Transmission, qBittorrent, Deluge), implemented under
//!   `crate::client` next to each client's connection code.
//! - [`place`]: the directory each listed torrent's data belongs in.
//! - [`fetch`]: the listing and its .torrent files over HTTP(S) or disk.
//! - [`run`]: the executor.

pub mod diff;
pub mod fetch;
pub mod listing;
pub mod place;
pub mod run;

pub use crate::client::follow::{Added, ClientTorrent, FollowClient, FollowError};
pub use run::{run, FollowOptions, FollowOutcome};

use crate::config::{FollowClient as FollowClientSettings, FollowSettings};

/// The client `[follow]` (or `[client]`) names, with follow's label and
/// download directory.
pub fn open_client(settings: &FollowSettings) -> Result<Box<dyn FollowClient>, FollowError> {
    let label = &settings.label;
    let dir = settings.download_dir.clone();
    Ok(match &settings.client {
        FollowClientSettings::Transmission {
            rpc_url,
            username,
            password,
        } => Box::new(crate::client::transmission::follow::Follower::new(
            rpc_url,
            username.as_deref(),
            password.as_deref(),
            label,
            dir,
            settings.timeout,
        )?),
        FollowClientSettings::Rtorrent { socket_url } => Box::new(
            crate::client::rtorrent::Follower::new(socket_url, label, dir)?,
        ),
        FollowClientSettings::Qbittorrent {
            url,
            username,
            password,
            api_key,
        } => Box::new(crate::client::qbittorrent::follow::Follower::new(
            crate::client::qbittorrent::QbitOptions {
                url: url.clone(),
                username: username.clone(),
                password: password.clone(),
                api_key: api_key.clone(),
            },
            label,
            dir,
        )?),
        FollowClientSettings::Deluge { url, password } => {
            Box::new(crate::client::deluge::follow::Follower::new(
                crate::client::deluge::DelugeOptions {
                    url: url.clone(),
                    password: password
                        .clone()
                        .unwrap_or_else(|| crate::client::deluge::DEFAULT_PASSWORD.to_string()),
                },
                label,
                dir,
            )?)
        }
    })
}
