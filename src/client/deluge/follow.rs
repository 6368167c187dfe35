//! Deluge as `follow`'s client, over the same deluge-web session `rotate`
//! uses. follow owns the torrents carrying its label and removes them with
//! their data, so the label must live in Deluge itself: that is the Label
//! plugin's, and follow refuses to run without it (a record of its own
//! would be lost with the follower's disk while Deluge kept the torrents).
//! Each torrent is added with its own `download_location`;
//! `core.move_storage` moves data that is elsewhere; removal is
//! `core.remove_torrent` with `remove_data` (Deluge deletes its files).

use std::cell::Cell;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value};

use super::{Client, DelugeOptions};
use crate::client::follow::{
    configured_or_reported, Added, ClientTorrent, FollowClient, FollowError,
};
use crate::client::ClientError;
use crate::torrent::InfoHash;

/// The fields `torrents()` reads; `label` is the Label plugin's.
const FIELDS: &[&str] = &["hash", "name", "label", "save_path", "is_finished", "state"];

pub struct Follower {
    client: Client,
    label: String,
    download_dir: Option<PathBuf>,
    /// The Label plugin is on and knows our label (checked once a run).
    label_ready: Cell<bool>,
}

fn error(e: ClientError) -> FollowError {
    FollowError(e.to_string())
}

/// One torrent of `core.get_torrents_status` with the fields follow reads.
#[derive(Debug, Clone, Deserialize)]
pub struct FollowRow {
    pub hash: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub save_path: String,
    #[serde(default)]
    pub is_finished: bool,
    #[serde(default)]
    pub state: String,
}

/// `core.get_torrents_status`'s result in follow's terms, sorted by hash;
/// a hash that is not one (never one of follow's) is left out.
pub fn parse_follow_rows(result: Value, label: &str) -> Result<Vec<ClientTorrent>, String> {
    let map: std::collections::BTreeMap<String, FollowRow> = serde_json::from_value(result)
        .map_err(|e| format!("Deluge's core.get_torrents_status: {e}"))?;
    Ok(map
        .into_values()
        .filter_map(|r| {
            let info_hash = InfoHash::from_hex(&r.hash).ok()?;
            let busy = matches!(r.state.as_str(), "Checking" | "Allocating" | "Moving");
            Some(ClientTorrent {
                info_hash,
                name: r.name,
                labelled: r.label == label,
                dir: Some(PathBuf::from(r.save_path)).filter(|d| !d.as_os_str().is_empty()),
                complete: r.is_finished && !busy,
            })
        })
        .collect())
}

/// Whether the Label plugin is among `core.get_enabled_plugins`'s.
pub fn label_plugin_on(enabled: &Value) -> bool {
    enabled
        .as_array()
        .is_some_and(|list| list.iter().any(|p| p.as_str() == Some("Label")))
}

impl Follower {
    pub fn new(
        options: DelugeOptions,
        label: &str,
        download_dir: Option<PathBuf>,
    ) -> Result<Follower, FollowError> {
        // The Label plugin's own rule for label names.
        let valid = !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c));
        if !valid {
            return Err(FollowError(format!(
                "label {label:?}: Deluge's Label plugin takes only a-z, 0-9, '_', '-' and '.'"
            )));
        }
        Ok(Follower {
            client: Client::new(options).map_err(FollowError)?,
            label: label.to_string(),
            download_dir,
            label_ready: Cell::new(false),
        })
    }

    fn call(&self, method: &str, params: Value, hash: Option<&str>) -> Result<Value, FollowError> {
        self.client.call(method, params, hash).map_err(error)
    }

    /// The Label plugin must be on; our label is created when missing.
    fn ensure_label(&self) -> Result<(), FollowError> {
        if self.label_ready.get() {
            return Ok(());
        }
        let enabled = self.call("core.get_enabled_plugins", json!([]), None)?;
        if !label_plugin_on(&enabled) {
            return Err(FollowError(
                "Deluge's Label plugin is off: follow marks the torrents it owns (and may \
                 remove with their data) with a label; enable it (Preferences → Plugins → \
                 Label) and run again"
                    .into(),
            ));
        }
        let labels = self.call("label.get_labels", json!([]), None)?;
        let known = labels
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x.as_str() == Some(self.label.as_str())));
        if !known {
            self.call("label.add", json!([self.label]), None)?;
        }
        self.label_ready.set(true);
        Ok(())
    }

    fn listed(&self, info_hash: InfoHash) -> Result<bool, FollowError> {
        let hex = info_hash.to_hex();
        Ok(self
            .client
            .listed(std::slice::from_ref(&hex))
            .map_err(error)?
            .contains(&hex))
    }

    /// `method` with the source and the options, started in `dir`, then
    /// the label set: a torrent only becomes ours once it carries it.
    fn add(
        &self,
        method: &str,
        source: Value,
        info_hash: InfoHash,
        dir: &Path,
    ) -> Result<Added, FollowError> {
        self.ensure_label()?;
        let options = json!({"download_location": dir.to_string_lossy(), "add_paused": false});
        let mut params = match source {
            Value::Array(a) => a,
            other => vec![other],
        };
        params.push(options);
        let hex = info_hash.to_hex();
        let answer = match self.client.call(method, Value::Array(params), None) {
            Ok(v) => v,
            // Someone else's already (Deluge refuses a second add).
            Err(ClientError::Refused(e)) if e.to_string().contains("already in session") => {
                return Ok(Added::AlreadyThere)
            }
            Err(e) => return Err(error(e)),
        };
        // The add answers the torrent's id; a magnet may only be listed a
        // moment later (up to 5 s).
        if answer.as_str() != Some(hex.as_str()) {
            let mut tries = 0;
            while !self.listed(info_hash)? {
                tries += 1;
                if tries >= 100 {
                    return Err(FollowError(format!(
                        "Deluge did not add torrent {hex} (it answered {answer}); see deluged's log"
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        self.call("label.set_torrent", json!([hex, self.label]), Some(&hex))?;
        Ok(Added::Added)
    }
}

impl FollowClient for Follower {
    fn kind(&self) -> &'static str {
        "deluge"
    }

    fn torrents(&self) -> Result<Vec<ClientTorrent>, FollowError> {
        self.ensure_label()?;
        let v = self.call("core.get_torrents_status", json!([{}, FIELDS]), None)?;
        parse_follow_rows(v, &self.label).map_err(FollowError)
    }

    /// The configured directory, else Deluge's download location.
    fn download_root(&self) -> Result<PathBuf, FollowError> {
        configured_or_reported(
            self.download_dir.as_deref(),
            "Deluge's download location",
            || self.client.download_dir().map_err(error),
        )
    }

    fn add_metainfo(
        &self,
        metainfo: &[u8],
        info_hash: InfoHash,
        dir: &Path,
    ) -> Result<Added, FollowError> {
        self.add(
            "core.add_torrent_file",
            json!([
                format!("{}.torrent", info_hash.to_hex()),
                crate::base64::encode(metainfo)
            ]),
            info_hash,
            dir,
        )
    }

    fn add_magnet(&self, uri: &str, info_hash: InfoHash, dir: &Path) -> Result<Added, FollowError> {
        self.add("core.add_torrent_magnet", json!([uri]), info_hash, dir)
    }

    /// `core.move_storage`: Deluge moves the data itself.
    fn relocate(&self, torrent: &ClientTorrent, dir: &Path) -> Result<(), FollowError> {
        let hex = torrent.info_hash.to_hex();
        self.call(
            "core.move_storage",
            json!([[hex], dir.to_string_lossy()]),
            Some(&hex),
        )
        .map(drop)
    }

    fn remove_with_data(&self, torrent: &ClientTorrent) -> Result<(), FollowError> {
        let hex = torrent.info_hash.to_hex();
        match self.call("core.remove_torrent", json!([hex, true]), Some(&hex))? {
            Value::Bool(false) => Err(FollowError(format!("Deluge did not remove torrent {hex}"))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn rows_in_follows_terms() {
        let v = json!({
            H: {"hash": H, "name": "a", "label": "lowspace-follow", "save_path": "/srv/d/x",
                "is_finished": true, "state": "Seeding"},
            "1111111111111111111111111111111111111111": {"hash": "1111111111111111111111111111111111111111",
                "name": "b", "label": "", "save_path": "", "is_finished": true, "state": "Checking"},
            "junk": {"hash": "junk"}
        });
        let ts = parse_follow_rows(v, "lowspace-follow").unwrap();
        assert_eq!(ts.len(), 2);
        assert_eq!(ts[0].info_hash.to_hex(), H);
        assert!(ts[0].labelled && ts[0].complete);
        assert_eq!(ts[0].dir.as_deref(), Some(Path::new("/srv/d/x")));
        assert!(!ts[1].labelled && !ts[1].complete && ts[1].dir.is_none());
    }

    #[test]
    fn each_error_is_named() {
        assert!(parse_follow_rows(json!([1]), "l")
            .unwrap_err()
            .contains("core.get_torrents_status"));
        assert!(parse_follow_rows(json!({"x": {"name": "no hash"}}), "l").is_err());
        assert!(label_plugin_on(&json!(["Stats", "Label"])));
        assert!(!label_plugin_on(&json!(["Stats"])));
        assert!(!label_plugin_on(&json!(null)));
        let options = DelugeOptions {
            url: "http://127.0.0.1:8112".into(),
            password: "deluge".into(),
        };
        for bad in ["Follow", "a b", ""] {
            let e = Follower::new(options.clone(), bad, None).err().unwrap();
            assert!(e.0.contains("Label plugin takes only"), "{bad}: {e}");
        }
    }
}
