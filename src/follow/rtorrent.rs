//! rtorrent as `follow`'s client: the label is `d.custom1` (as ruTorrent
//! shows it), torrents are sent as bytes with `load.raw_start` (rtorrent may
//! run as another user or on another host), and removal is `d.erase`
//! followed by deleting the torrent's own files with the same guarded
//! deletion rotation uses (no symlinks, nothing outside the download
//! directory), because rtorrent itself never deletes data.

use std::path::{Path, PathBuf};

use super::client::{Added, ClientError, ClientTorrent, TorrentClient};
use crate::rotate::delete::delete_torrent_files;
use crate::rtorrent::xmlrpc::Value;
use crate::rtorrent::Client;
use crate::torrent::InfoHash;

pub struct Rtorrent {
    client: Client,
    label: String,
    download_dir: Option<PathBuf>,
}

impl Rtorrent {
    pub fn new(
        socket_url: &str,
        label: &str,
        download_dir: Option<PathBuf>,
    ) -> Result<Rtorrent, ClientError> {
        // The label and directory go into rtorrent commands inside quotes.
        for (what, text) in [
            ("label", label.to_string()),
            (
                "download_dir",
                download_dir
                    .as_ref()
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        ] {
            if text.contains(['"', '\\', '\n', '\r']) {
                return Err(ClientError(format!(
                    "{what} {text:?}: quotes, backslashes and line breaks cannot be passed to rtorrent"
                )));
            }
        }
        let client = Client::new(socket_url).map_err(|e| ClientError(e.to_string()))?;
        Ok(Rtorrent {
            client,
            label: label.to_string(),
            download_dir,
        })
    }

    fn load_commands(&self) -> Vec<String> {
        let mut commands = vec![format!("d.custom1.set=\"{}\"", self.label)];
        if let Some(dir) = &self.download_dir {
            commands.push(format!("d.directory.set=\"{}\"", dir.display()));
        }
        commands
    }

    /// Where data may be deleted: the configured directory, else rtorrent's default.
    fn deletable_root(&self) -> Result<PathBuf, ClientError> {
        if let Some(dir) = &self.download_dir {
            return Ok(dir.clone());
        }
        match self.client.call("directory.default", &[]) {
            Ok(Value::String(dir)) if !dir.is_empty() => Ok(PathBuf::from(dir)),
            Ok(other) => Err(ClientError(format!(
                "rtorrent's directory.default is {other:?}; set download_dir in [follow]"
            ))),
            Err(e) => Err(ClientError(format!("directory.default: {e}"))),
        }
    }
}

impl TorrentClient for Rtorrent {
    fn kind(&self) -> &'static str {
        "rtorrent"
    }

    fn torrents(&self) -> Result<Vec<ClientTorrent>, ClientError> {
        let downloads = self
            .client
            .downloads()
            .map_err(|e| ClientError(e.to_string()))?;
        downloads
            .into_iter()
            .map(|d| {
                let info_hash = InfoHash::from_hex(&d.hash)
                    .map_err(|e| ClientError(format!("rtorrent d.hash: {e}")))?;
                Ok(ClientTorrent {
                    info_hash,
                    labelled: d.label == self.label,
                    name: d.name,
                })
            })
            .collect()
    }

    fn add_metainfo(&self, metainfo: &[u8], _info_hash: InfoHash) -> Result<Added, ClientError> {
        let commands = self.load_commands();
        let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
        self.client
            .load_raw_start(metainfo, &commands)
            .map_err(|e| ClientError(e.to_string()))?;
        Ok(Added::Added)
    }

    fn add_magnet(&self, uri: &str, _info_hash: InfoHash) -> Result<Added, ClientError> {
        let commands = self.load_commands();
        let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
        self.client
            .load_start(uri, &commands)
            .map_err(|e| ClientError(e.to_string()))?;
        Ok(Added::Added)
    }

    fn remove_with_data(&self, torrent: &ClientTorrent) -> Result<(), ClientError> {
        let hash = torrent.info_hash.to_hex_upper();
        let rpc = |e: crate::rtorrent::RpcError| ClientError(e.to_string());
        let download = self
            .client
            .downloads()
            .map_err(rpc)?
            .into_iter()
            .find(|d| d.hash.eq_ignore_ascii_case(&hash))
            .ok_or_else(|| ClientError(format!("{} is no longer in rtorrent", torrent.name)))?;
        if download.label != self.label {
            return Err(ClientError(format!(
                "{} lost our label before removal; left alone",
                download.name
            )));
        }
        let files = self.client.files(&hash).map_err(rpc)?;
        let root = self.deletable_root()?;
        let data_path = data_path(&download);
        let parent = data_path
            .parent()
            .ok_or_else(|| ClientError(format!("data path {} has no parent", data_path.display())))?
            .to_path_buf();
        let top = data_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| ClientError(format!("data path {} has no name", data_path.display())))?;
        let relative: Vec<Vec<String>> = files
            .iter()
            .map(|f| {
                let mut rel = vec![top.clone()];
                if download.multi_file {
                    rel.extend(f.path.split('/').map(str::to_string));
                }
                rel
            })
            .collect();
        self.client.erase(&hash).map_err(rpc)?;
        let deleted = delete_torrent_files(&root, &parent, &relative).map_err(|e| {
            ClientError(format!("{}: erased from rtorrent, but {e}", download.name))
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

/// The file (single-file torrent) or directory (multi-file) holding the
/// data; rtorrent leaves `d.base_path` empty until it opens the download.
fn data_path(d: &crate::rtorrent::Download) -> PathBuf {
    if !d.base_path.is_empty() {
        return PathBuf::from(&d.base_path);
    }
    if d.multi_file {
        PathBuf::from(&d.directory)
    } else {
        Path::new(&d.directory).join(&d.name)
    }
}
