//! qBittorrent as `follow`'s client, over the same WebUI session `rotate`
//! uses: follow's label is a qBittorrent tag, each torrent is added with
//! its own save path (automatic torrent management off, so the path
//! holds), `setLocation` moves data that is elsewhere, and removal is
//! `delete` with `deleteFiles=true` (qBittorrent deletes its own files).

use std::path::{Path, PathBuf};

use super::{Client, InfoRow, QbitOptions};
use crate::client::follow::{
    configured_or_reported, Added, ClientTorrent, FollowClient, FollowError,
};
use crate::client::ClientError;
use crate::http::form::Multipart;
use crate::http::Request;
use crate::torrent::InfoHash;

/// Looks (50 ms apart, up to 5 s) for a torrent qBittorrent accepted: it
/// lists it a moment after answering the add.
const LIST_WAIT_TRIES: u32 = 100;

/// Tries asking by v1 hash before looking through the whole list.
const WHOLE_LIST_AFTER: u32 = 4;

pub struct Follower {
    client: Client,
    label: String,
    download_dir: Option<PathBuf>,
}

fn error(e: ClientError) -> FollowError {
    FollowError(e.to_string())
}

impl Follower {
    pub fn new(
        options: QbitOptions,
        label: &str,
        download_dir: Option<PathBuf>,
    ) -> Result<Follower, FollowError> {
        // qBittorrent splits the tags of an add at commas.
        if label.contains(',') {
            return Err(FollowError(format!(
                "label {label:?}: a qBittorrent tag cannot hold a comma"
            )));
        }
        Ok(Follower {
            client: Client::new(options).map_err(FollowError)?,
            label: label.to_string(),
            download_dir,
        })
    }

    /// The torrent's row, asked for by its v1 hash (one short answer), or
    /// with `whole_list` found in the whole list: qBittorrent knows a
    /// hybrid torrent only by its v2 id.
    fn row(&self, info_hash: InfoHash, whole_list: bool) -> Result<Option<InfoRow>, FollowError> {
        let hex = info_hash.to_hex();
        let query = [("hashes", hex.as_str())];
        let rows = self
            .client
            .info(if whole_list { &[] } else { &query })
            .map_err(error)?;
        Ok(rows.into_iter().find(|r| r.v1_hash() == hex))
    }

    /// One upload with the source (`torrents` file or `urls` magnet), the
    /// save path and the tag, started; then the list says whether it is
    /// ours (the tag took) or was someone else's already.
    fn add(
        &self,
        source: impl FnOnce(&mut Multipart) -> bool,
        info_hash: InfoHash,
        dir: &Path,
    ) -> Result<Added, FollowError> {
        // Known from this run's torrent list (which `torrents()` read):
        // no request needed to tell.
        if self.client.ids.borrow().contains_key(&info_hash.to_hex()) {
            return Ok(Added::AlreadyThere);
        }
        let (cookie, _) = self.client.session().map_err(error)?;
        let mut form = Multipart::new();
        if !source(&mut form) {
            return Err(FollowError(
                "the .torrent holds the upload's boundary; try again".into(),
            ));
        }
        form.text("savepath", &dir.to_string_lossy());
        form.text("autoTMM", "false");
        form.text("tags", &self.label);
        form.text("paused", "false");
        form.text("stopped", "false");
        // The torrent's own directory, whatever the user's default layout.
        form.text("contentLayout", "Original");
        form.text("root_folder", "true");
        let (content_type, body) = form.finish();
        let request = Request::post(
            self.client.url("/api/v2/torrents/add", &[]),
            &content_type,
            body,
        );
        if let Err(e) = self.client.send(request, cookie.as_deref(), None) {
            // "Fails." (a 409 on 5.x) when it was there already: the
            // list below tells.
            if !matches!(e, ClientError::Refused(_)) {
                return Err(error(e));
            }
        }
        for attempt in 0..LIST_WAIT_TRIES {
            if let Some(row) = self.row(info_hash, attempt >= WHOLE_LIST_AFTER)? {
                return Ok(if has_tag(&row, &self.label) {
                    Added::Added
                } else {
                    Added::AlreadyThere
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(FollowError(format!(
            "qBittorrent did not add torrent {} (it answers an add with \"Ok.\" or \"Fails.\" only; see its log)",
            info_hash.to_hex()
        )))
    }

    fn verb(
        &self,
        path: &str,
        torrent: &ClientTorrent,
        form: &[(&str, &str)],
    ) -> Result<(), FollowError> {
        let id = self.client.id(&torrent.info_hash);
        let mut all = vec![("hashes", id.as_str())];
        all.extend_from_slice(form);
        self.client
            .post(path, &all, Some(&id))
            .map(drop)
            .map_err(error)
    }
}

fn has_tag(row: &InfoRow, label: &str) -> bool {
    row.tags.split(',').any(|t| t.trim() == label)
}

/// One row of the torrent list in follow's terms; None for an id that is
/// not a v1 info-hash (a v2-only torrent, never one of follow's).
pub fn follow_torrent(row: &InfoRow, label: &str) -> Option<ClientTorrent> {
    let info_hash = InfoHash::from_hex(&row.v1_hash()).ok()?;
    let checking = row.state.starts_with("checking") || row.state == "moving";
    Some(ClientTorrent {
        info_hash,
        name: row.name.clone(),
        labelled: has_tag(row, label),
        dir: Some(PathBuf::from(&row.save_path)).filter(|d| !d.as_os_str().is_empty()),
        complete: !checking && row.progress >= 1.0,
    })
}

impl FollowClient for Follower {
    fn kind(&self) -> &'static str {
        "qbittorrent"
    }

    fn torrents(&self) -> Result<Vec<ClientTorrent>, FollowError> {
        let rows = self.client.info(&[]).map_err(error)?;
        Ok(rows
            .iter()
            .filter_map(|r| follow_torrent(r, &self.label))
            .collect())
    }

    /// The configured directory, else qBittorrent's default save path.
    fn download_root(&self) -> Result<PathBuf, FollowError> {
        configured_or_reported(
            self.download_dir.as_deref(),
            "qBittorrent's default save path",
            || self.client.default_save_path().map_err(error),
        )
    }

    fn add_metainfo(
        &self,
        metainfo: &[u8],
        info_hash: InfoHash,
        dir: &Path,
    ) -> Result<Added, FollowError> {
        self.add(
            |form| {
                form.file(
                    "torrents",
                    "follow.torrent",
                    "application/x-bittorrent",
                    metainfo,
                )
            },
            info_hash,
            dir,
        )
    }

    fn add_magnet(&self, uri: &str, info_hash: InfoHash, dir: &Path) -> Result<Added, FollowError> {
        self.add(
            |form| {
                form.text("urls", uri);
                true
            },
            info_hash,
            dir,
        )
    }

    /// `setLocation`: qBittorrent moves the data itself.
    fn relocate(&self, torrent: &ClientTorrent, dir: &Path) -> Result<(), FollowError> {
        self.verb(
            "/api/v2/torrents/setLocation",
            torrent,
            &[("location", &dir.to_string_lossy())],
        )
    }

    fn remove_with_data(&self, torrent: &ClientTorrent) -> Result<(), FollowError> {
        self.verb(
            "/api/v2/torrents/delete",
            torrent,
            &[("deleteFiles", "true")],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(json: &str) -> InfoRow {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn rows_in_follows_terms() {
        let h = "0123456789abcdef0123456789abcdef01234567";
        let t = follow_torrent(
            &row(&format!(
                r#"{{"hash":"{h}","name":"a","size":1,"state":"stalledUP","progress":1.0,"save_path":"/srv/d/sub","tags":"x, lowspace-follow"}}"#
            )),
            "lowspace-follow",
        )
        .unwrap();
        assert_eq!(t.info_hash.to_hex(), h);
        assert!(t.labelled && t.complete);
        assert_eq!(t.dir.as_deref(), Some(Path::new("/srv/d/sub")));

        // Checking again, untagged, no save path yet.
        let t = follow_torrent(
            &row(&format!(
                r#"{{"hash":"{h}","name":"a","size":1,"state":"checkingUP","progress":1.0,"tags":"lowspace-followers"}}"#
            )),
            "lowspace-follow",
        )
        .unwrap();
        assert!(!t.labelled && !t.complete && t.dir.is_none());

        // A v2-only torrent's id is not a v1 hash lowspace could hold.
        assert!(follow_torrent(
            &row(r#"{"hash":"zz","name":"v2","size":1,"state":"uploading"}"#),
            "l"
        )
        .is_none());
    }

    #[test]
    fn a_label_with_a_comma_is_refused() {
        let options = QbitOptions {
            url: "http://127.0.0.1:8080".into(),
            username: None,
            password: None,
            api_key: None,
        };
        let e = Follower::new(options, "a,b", None).err().unwrap();
        assert!(e.0.contains("comma"), "{e}");
    }
}
