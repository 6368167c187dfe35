//! rtorrent as `follow`'s client: the label is `d.custom1` (as ruTorrent
//! shows it), torrents are sent as bytes with `load.raw_start` (rtorrent may
//! run as another user or on another host), and removal is `d.erase`
//! followed by deleting the torrent's own files with the same guarded
//! deletion rotation uses (no symlinks, nothing outside the download
//! directory), because rtorrent itself never deletes data.
//!
//! rtorrent's side for `rotate` is [`crate::rtorrent::Client`] itself; this
//! is the layer follow needs over it.

use std::path::{Path, PathBuf};

use crate::client::follow::{Added, ClientTorrent, FollowClient, FollowError};
use crate::guard::{check_deletable, delete_torrent_files, DataRoots};
use crate::relpath::RelPath;
use crate::rtorrent::xmlrpc::Value;
use crate::rtorrent::{Client, Download};
use crate::torrent::InfoHash;

/// How many times (100 ms apart) a just-loaded download is looked for.
const LOAD_WAIT_TRIES: u32 = 100;

pub struct Follower {
    client: Client,
    label: String,
    download_dir: Option<PathBuf>,
}

impl Follower {
    pub fn new(
        socket_url: &str,
        label: &str,
        download_dir: Option<PathBuf>,
    ) -> Result<Follower, FollowError> {
        // The label goes into a load command inside quotes.
        if label.contains(['"', '\\', '\n', '\r']) {
            return Err(FollowError(format!(
                "label {label:?}: quotes, backslashes and line breaks cannot be passed to rtorrent"
            )));
        }
        let client = Client::new(socket_url).map_err(|e| FollowError(e.to_string()))?;
        Ok(Follower {
            client,
            label: label.to_string(),
            download_dir,
        })
    }

    fn rpc(e: crate::rtorrent::RpcError) -> FollowError {
        FollowError(e.to_string())
    }

    fn download(&self, hash: &str, name: &str) -> Result<Download, FollowError> {
        self.client
            .downloads()
            .map_err(Self::rpc)?
            .into_iter()
            .find(|d| d.hash.eq_ignore_ascii_case(hash))
            .ok_or_else(|| FollowError(format!("{name} is no longer in rtorrent")))
    }

    /// rtorrent opens a single-file download only in a directory that
    /// exists. Made by rtorrent itself first (its host, its user, so it
    /// can write there), else here when the directory is on this machine.
    fn make_dir(&self, dir: &Path) -> Result<(), FollowError> {
        let by_rtorrent = self.client.call(
            "execute.throw",
            &[
                Value::str(""),
                Value::str("mkdir"),
                Value::str("-p"),
                Value::str("--"),
                Value::str(dir.to_string_lossy()),
            ],
        );
        match by_rtorrent {
            Ok(_) => Ok(()),
            Err(rtorrent_err) => std::fs::create_dir_all(dir).map_err(|e| {
                FollowError(format!(
                    "cannot create {}: rtorrent's mkdir failed ({rtorrent_err}) and so did this machine's ({e})",
                    dir.display()
                ))
            }),
        }
    }

    /// Loads without starting (label set in the same call), then sets the
    /// directory as an XML-RPC string (no quoting of listed names inside a
    /// command), then starts: the data is never written anywhere else.
    fn load_into(
        &self,
        load: impl Fn(&[&str]) -> Result<(), crate::rtorrent::RpcError>,
        info_hash: InfoHash,
        dir: &Path,
    ) -> Result<Added, FollowError> {
        let hash = info_hash.to_hex_upper();
        if self.download(&hash, "").is_ok() {
            return Ok(Added::AlreadyThere);
        }
        self.make_dir(dir)?;
        let label = format!("d.custom1.set=\"{}\"", self.label);
        load(&[label.as_str()]).map_err(Self::rpc)?;
        // rtorrent may insert a loaded download a moment after load.raw
        // answers; until then the hash is unknown.
        let mut tries = 0;
        let set = loop {
            match self.client.call(
                "d.directory.set",
                &[Value::str(hash.as_str()), Value::str(dir.to_string_lossy())],
            ) {
                Err(e) if e.is_unknown_hash() && tries < LOAD_WAIT_TRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                other => {
                    break other.map(drop).map_err(|e| {
                        FollowError(format!("d.directory.set {}: {e}", dir.display()))
                    })
                }
            }
        };
        if let Err(e) = set {
            // Never leave it to download into the wrong place.
            let _ = self.client.erase(&hash);
            return Err(e);
        }
        self.client.start(&hash).map_err(Self::rpc)?;
        Ok(Added::Added)
    }
}

impl FollowClient for Follower {
    fn kind(&self) -> &'static str {
        "rtorrent"
    }

    fn torrents(&self) -> Result<Vec<ClientTorrent>, FollowError> {
        let downloads = self.client.downloads().map_err(Self::rpc)?;
        downloads
            .into_iter()
            .map(|d| {
                let info_hash = InfoHash::from_hex(&d.hash)
                    .map_err(|e| FollowError(format!("rtorrent d.hash: {e}")))?;
                let dir = data_path(&d).parent().map(Path::to_path_buf);
                Ok(ClientTorrent {
                    info_hash,
                    labelled: d.label == self.label,
                    dir,
                    complete: d.complete,
                    name: d.name,
                })
            })
            .collect()
    }

    /// The configured directory, else rtorrent's directory.default made
    /// absolute the way rotation does (`~` is rtorrent's HOME).
    fn download_root(&self) -> Result<PathBuf, FollowError> {
        if let Some(dir) = &self.download_dir {
            return Ok(dir.clone());
        }
        crate::rtorrent::directory::download_directory(&self.client)
            .map_err(|e| FollowError(format!("{e}; or set download_dir in [follow]")))
    }

    fn add_metainfo(
        &self,
        metainfo: &[u8],
        info_hash: InfoHash,
        dir: &Path,
    ) -> Result<Added, FollowError> {
        self.load_into(
            |commands| self.client.load_raw(metainfo, commands),
            info_hash,
            dir,
        )
    }

    fn add_magnet(&self, uri: &str, info_hash: InfoHash, dir: &Path) -> Result<Added, FollowError> {
        self.load_into(
            |commands| self.client.load_normal(uri, commands),
            info_hash,
            dir,
        )
    }

    /// rtorrent has no move call: stop and close it, rename its data on
    /// this machine, point it there, start it. Everything is checked
    /// before it is stopped; a failed rename starts it where it was.
    fn relocate(&self, torrent: &ClientTorrent, dir: &Path) -> Result<(), FollowError> {
        let hash = torrent.info_hash.to_hex_upper();
        let download = self.download(&hash, &torrent.name)?;
        if download.label != self.label {
            return Err(FollowError(format!(
                "{} lost our label; not moved",
                download.name
            )));
        }
        let root = self.download_root()?;
        let from = data_path(&download);
        let to = dir.join(&download.name);
        // `dir` is built from the root and checked listed parts; its
        // directories may not exist yet, so it is compared as written.
        if !is_inside(&from, &root) || !dir.starts_with(&root) {
            return Err(FollowError(format!(
                "{} or {} is outside the download directory {}; not moved",
                from.display(),
                dir.display(),
                root.display()
            )));
        }
        match std::fs::symlink_metadata(&from) {
            Ok(meta) if !meta.file_type().is_symlink() => {}
            Ok(_) => {
                return Err(FollowError(format!(
                    "{} is a symlink; not moved",
                    from.display()
                )))
            }
            Err(e) => {
                return Err(FollowError(format!(
                    "cannot move {}: {e} (is rtorrent's download directory on this machine?)",
                    from.display()
                )))
            }
        }
        if std::fs::symlink_metadata(&to).is_ok() {
            return Err(FollowError(format!(
                "{} already exists; not overwriting it with {}",
                to.display(),
                from.display()
            )));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| FollowError(format!("cannot create {}: {e}", dir.display())))?;
        let was_started = download.started;
        self.client.stop_and_drain(&hash).map_err(Self::rpc)?;
        self.client
            .call("d.close", &[Value::str(hash.as_str())])
            .map_err(Self::rpc)?;
        let moved = std::fs::rename(&from, &to).map_err(|e| {
            FollowError(format!(
                "cannot move {} to {}: {e}",
                from.display(),
                to.display()
            ))
        });
        let target = if moved.is_ok() {
            dir.to_path_buf()
        } else {
            from.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        self.client
            .call(
                "d.directory.set",
                &[
                    Value::str(hash.as_str()),
                    Value::str(target.to_string_lossy()),
                ],
            )
            .map_err(Self::rpc)?;
        if was_started {
            self.client.start(&hash).map_err(Self::rpc)?;
        }
        moved
    }

    fn remove_with_data(&self, torrent: &ClientTorrent) -> Result<(), FollowError> {
        let hash = torrent.info_hash.to_hex_upper();
        let download = self.download(&hash, &torrent.name)?;
        if download.label != self.label {
            return Err(FollowError(format!(
                "{} lost our label before removal; left alone",
                download.name
            )));
        }
        let files = self.client.files(&hash).map_err(Self::rpc)?;
        let root = self.download_root()?;
        let data_path = data_path(&download);
        let roots = DataRoots {
            download_dir: root.clone(),
            completed_dir: None,
        };
        let top = data_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| FollowError(format!("data path {} has no name", data_path.display())))?;
        let relative = files
            .iter()
            .map(|f| {
                let inner: Vec<&str> = f.path.split('/').collect();
                RelPath::for_torrent_file(&top, !download.multi_file, &inner)
            })
            .collect::<Result<Vec<RelPath>, _>>()
            .map_err(|e| {
                FollowError(format!(
                    "{}: {e}; left in rtorrent, nothing deleted",
                    download.name
                ))
            })?;
        // Checked before the erase, with the deletion's own guard: once
        // erased, data that cannot be deleted would be left behind with
        // nothing pointing at it.
        check_deletable(&roots, &data_path, &relative).map_err(|e| {
            FollowError(format!(
                "{}: {e}; left in rtorrent, nothing deleted",
                download.name
            ))
        })?;
        // Erasing closes it: its pieces still being hashed must be done.
        self.client.stop_and_drain(&hash).map_err(Self::rpc)?;
        self.client.erase(&hash).map_err(Self::rpc)?;
        let deleted = delete_torrent_files(&roots, &data_path, &relative).map_err(|e| {
            FollowError(format!("{}: erased from rtorrent, but {e}", download.name))
        })?;
        log::info!(
            "{}: deleted {} files ({} bytes)",
            download.name,
            deleted.files,
            deleted.bytes
        );
        Ok(())
    }
}

/// `path` lies in `dir` (both resolved when they exist, so a symlink
/// cannot lead out).
fn is_inside(path: &Path, dir: &Path) -> bool {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    path.starts_with(&dir)
}

/// The file (single-file torrent) or directory (multi-file) holding the
/// data; rtorrent leaves `d.base_path` empty until it opens the download.
fn data_path(d: &Download) -> PathBuf {
    if !d.base_path.is_empty() {
        return PathBuf::from(&d.base_path);
    }
    if d.multi_file {
        PathBuf::from(&d.directory)
    } else {
        Path::new(&d.directory).join(&d.name)
    }
}
