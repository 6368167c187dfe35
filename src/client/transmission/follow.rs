//! Transmission as `follow`'s client: the RPC session [`Rpc`] shared with
//! `rotate` (session-id handshake, basic authentication), and the
//! methods `follow` needs: torrent-get, torrent-add, torrent-set
//! (labels) and torrent-remove with delete-local-data.
//!
//! Reading the replies is pure ([`parse_reply`], [`parse_torrents`]) so it
//! is fuzzed apart from the socket.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::client::follow::{Added, ClientTorrent, FollowClient, FollowError};
use crate::client::transmission::Rpc;
use crate::torrent::InfoHash;

pub struct Follower {
    rpc: Rpc,
    label: String,
    download_dir: Option<PathBuf>,
}

impl Follower {
    pub fn new(
        rpc_url: &str,
        username: Option<&str>,
        password: Option<&str>,
        label: &str,
        download_dir: Option<PathBuf>,
        timeout: std::time::Duration,
    ) -> Result<Follower, FollowError> {
        let rpc = Rpc::new(rpc_url, username, password, timeout).map_err(FollowError)?;
        Ok(Follower {
            rpc,
            label: label.to_string(),
            download_dir,
        })
    }

    /// One RPC call; returns its `arguments`.
    pub fn call(&self, method: &str, arguments: Value) -> Result<Value, FollowError> {
        self.rpc
            .call(method, arguments)
            .map_err(|e| FollowError(e.to_string()))
    }

    fn add(
        &self,
        mut arguments: Value,
        info_hash: InfoHash,
        dir: &Path,
    ) -> Result<Added, FollowError> {
        // The callers pass an object.
        if let Some(o) = arguments.as_object_mut() {
            o.insert("download-dir".into(), json!(dir.to_string_lossy()));
            o.insert("paused".into(), json!(false));
        }
        let reply = self.call("torrent-add", arguments)?;
        let added = parse_added(&reply).map_err(|e| FollowError(format!("torrent-add: {e}")))?;
        if added.0 != info_hash {
            return Err(FollowError(format!(
                "Transmission added {} where {} was expected",
                added.0.to_hex(),
                info_hash.to_hex()
            )));
        }
        if added.1 == Added::AlreadyThere {
            // Someone else's torrent: labelling it would make it ours to remove.
            return Ok(Added::AlreadyThere);
        }
        self.call(
            "torrent-set",
            json!({ "ids": [info_hash.to_hex()], "labels": [self.label] }),
        )?;
        Ok(Added::Added)
    }
}

impl FollowClient for Follower {
    fn kind(&self) -> &'static str {
        "transmission"
    }

    fn torrents(&self) -> Result<Vec<ClientTorrent>, FollowError> {
        let reply = self.call(
            "torrent-get",
            json!({ "fields": ["hashString", "name", "labels", "downloadDir", "percentDone"] }),
        )?;
        parse_torrents(&reply, &self.label).map_err(|e| FollowError(format!("torrent-get: {e}")))
    }

    /// The configured directory, else the daemon's own download-dir.
    fn download_root(&self) -> Result<PathBuf, FollowError> {
        if let Some(dir) = &self.download_dir {
            return Ok(dir.clone());
        }
        let reply = self.call("session-get", json!({ "fields": ["download-dir"] }))?;
        match reply.get("download-dir").and_then(Value::as_str) {
            Some(dir) if Path::new(dir).is_absolute() => Ok(PathBuf::from(dir)),
            other => Err(FollowError(format!(
                "Transmission's download-dir is {other:?}; set download_dir in [follow]"
            ))),
        }
    }

    fn add_metainfo(
        &self,
        metainfo: &[u8],
        info_hash: InfoHash,
        dir: &Path,
    ) -> Result<Added, FollowError> {
        self.add(
            json!({ "metainfo": crate::base64::encode(metainfo) }),
            info_hash,
            dir,
        )
    }

    fn add_magnet(&self, uri: &str, info_hash: InfoHash, dir: &Path) -> Result<Added, FollowError> {
        self.add(json!({ "filename": uri }), info_hash, dir)
    }

    /// torrent-set-location with move: the daemon moves the data itself.
    fn relocate(&self, torrent: &ClientTorrent, dir: &Path) -> Result<(), FollowError> {
        self.call(
            "torrent-set-location",
            json!({
                "ids": [torrent.info_hash.to_hex()],
                "location": dir.to_string_lossy(),
                "move": true
            }),
        )
        .map(drop)
    }

    fn remove_with_data(&self, torrent: &ClientTorrent) -> Result<(), FollowError> {
        self.call(
            "torrent-remove",
            json!({ "ids": [torrent.info_hash.to_hex()], "delete-local-data": true }),
        )
        .map(drop)
    }
}

/// The `arguments` of a successful reply, or the daemon's own error text.
pub fn parse_reply(body: &[u8]) -> Result<Value, String> {
    crate::client::transmission::parse_reply(body).map_err(|e| e.to_string())
}

/// torrent-get's `torrents`, each marked labelled when it carries `label`.
pub fn parse_torrents(arguments: &Value, label: &str) -> Result<Vec<ClientTorrent>, String> {
    let list = arguments
        .get("torrents")
        .and_then(Value::as_array)
        .ok_or("no \"torrents\" array")?;
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let hash = t
                .get("hashString")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("torrents[{i}] has no hashString"))?;
            let info_hash =
                InfoHash::from_hex(hash).map_err(|e| format!("torrents[{i}].hashString: {e}"))?;
            let name = t
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let labelled = match t.get("labels") {
                None | Some(Value::Null) => false,
                Some(Value::Array(labels)) => labels.iter().any(|l| l.as_str() == Some(label)),
                Some(_) => return Err(format!("torrents[{i}].labels is not an array")),
            };
            let dir = t
                .get("downloadDir")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
                .map(PathBuf::from);
            let complete = t.get("percentDone").and_then(Value::as_f64) == Some(1.0);
            Ok(ClientTorrent {
                info_hash,
                name,
                labelled,
                dir,
                complete,
            })
        })
        .collect()
}

/// torrent-add's answer: the hash and whether it was new (the client's
/// own reading, in follow's words).
pub fn parse_added(arguments: &Value) -> Result<(InfoHash, Added), String> {
    let (hash, new) = crate::client::transmission::parse_added(arguments)?;
    Ok((
        hash,
        if new {
            Added::Added
        } else {
            Added::AlreadyThere
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn reads_torrent_get_and_labels() {
        let body = format!(
            r#"{{"arguments":{{"torrents":[{{"hashString":"{H}","name":"a","labels":["x","lowspace-follow"],"downloadDir":"/srv/d/sub","percentDone":1}},{{"hashString":"{}","name":"b","labels":[]}},{{"hashString":"{}","name":"c"}}]}},"result":"success"}}"#,
            "1".repeat(40),
            "2".repeat(40)
        );
        let args = parse_reply(body.as_bytes()).unwrap();
        let ts = parse_torrents(&args, "lowspace-follow").unwrap();
        let labelled: Vec<bool> = ts.iter().map(|t| t.labelled).collect();
        assert_eq!(labelled, [true, false, false]);
        assert_eq!(ts[0].info_hash.to_hex(), H);
        assert_eq!(ts[1].name, "b");
        assert_eq!(ts[0].dir.as_deref(), Some(Path::new("/srv/d/sub")));
        assert!(ts[0].complete && !ts[1].complete);
        assert_eq!(ts[1].dir, None);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert!(parse_reply(b"<html>").unwrap_err().contains("not JSON"));
        assert!(parse_reply(b"{}").unwrap_err().contains("no \"result\""));
        assert_eq!(
            parse_reply(br#"{"result":"invalid or corrupt torrent file"}"#).unwrap_err(),
            "Transmission says: invalid or corrupt torrent file"
        );
        assert!(parse_torrents(&json!({}), "l")
            .unwrap_err()
            .contains("torrents"));
        assert!(parse_torrents(&json!({"torrents":[{"name":"x"}]}), "l")
            .unwrap_err()
            .contains("torrents[0] has no hashString"));
        assert!(
            parse_torrents(&json!({"torrents":[{"hashString":"zz"}]}), "l")
                .unwrap_err()
                .contains("torrents[0].hashString")
        );
        assert!(
            parse_torrents(&json!({"torrents":[{"hashString":H,"labels":"l"}]}), "l")
                .unwrap_err()
                .contains("labels is not an array")
        );
        assert!(parse_added(&json!({})).is_err());
        assert!(parse_added(&json!({"torrent-added":{}})).is_err());
    }

    #[test]
    fn added_and_duplicate() {
        let (h, a) = parse_added(&json!({"torrent-added":{"hashString":H,"id":1}})).unwrap();
        assert_eq!((h.to_hex().as_str(), a), (H, Added::Added));
        let (_, a) = parse_added(&json!({"torrent-duplicate":{"hashString":H}})).unwrap();
        assert_eq!(a, Added::AlreadyThere);
    }
}
