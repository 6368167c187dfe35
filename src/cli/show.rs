//! `lowspace show`: what a .torrent file holds, for people (like
//! transmission-show) or, with `--json`, for scripts.
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use std::io::Write as _;

use argh::FromArgs;
use serde_json::json;

use super::{CliError, Context};
use crate::logging::utc_timestamp;
use crate::size::human_size;
use crate::torrent::create::hex;
use crate::torrent::{Metainfo, TorrentVersion};

#[derive(FromArgs)]
/// print what a .torrent file holds: name, info-hash, sizes, trackers, web
/// seeds and files
#[argh(
    subcommand,
    name = "show",
    example = "Show a torrent:\n  $ {command_name} ubuntu.iso.torrent",
    example = "The same as JSON, e.g. to list file sizes with jq:\n  $ {command_name} --json album.torrent | jq -r '.files[] | \"\\(.length) \\(.path)\"'",
    note = "Exit codes: 0 shown, 1 the file cannot be read or is not a valid torrent \
(the message names the file and the bad field), 2 usage error."
)]
pub struct ShowArgs {
    /// print one JSON object instead of text
    #[argh(switch)]
    pub json: bool,

    /// the .torrent file
    #[argh(positional)]
    pub file: PathBuf,
}

impl ShowArgs {
    pub fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        let torrent = load_torrent(&self.file)?;
        let text = if self.json {
            let mut line = show_json(&self.file, &torrent).to_string();
            line.push('\n');
            line
        } else {
            show_text(&torrent)
        };
        ctx.out()
            .write_all(text.as_bytes())
            .map_err(|e| CliError::failure(format!("cannot write to standard output: {e}")))
    }
}

/// Loads a torrent for a command; the error names the file and the field.
pub(super) fn load_torrent(path: &Path) -> Result<Metainfo, CliError> {
    let torrent = Metainfo::from_file(path).map_err(|e| CliError::failure(e.to_string()))?;
    log::debug!(
        "{}: info-hash {}, {} files, {} bytes",
        path.display(),
        torrent.info_hash(),
        torrent.files().len(),
        torrent.total_size()
    );
    Ok(torrent)
}

/// Names come from strangers: control characters (an escape sequence in a
/// file name) are shown escaped so they cannot drive the terminal.
fn printable(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

fn size_with_bytes(bytes: u64) -> String {
    if bytes < 1024 {
        human_size(bytes)
    } else {
        format!("{} ({bytes} bytes)", human_size(bytes))
    }
}

fn creation_time(seconds: i64) -> String {
    match u64::try_from(seconds) {
        Ok(secs) => match UNIX_EPOCH.checked_add(Duration::from_secs(secs)) {
            Some(time) => utc_timestamp(time),
            None => seconds.to_string(),
        },
        Err(_) => seconds.to_string(),
    }
}

/// The report for people. Pure, so it is tested without a file.
pub fn show_text(torrent: &Metainfo) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        out.push_str(&format!("{label:<12}{}\n", printable(value)));
    };
    line("Name:", torrent.name());
    line("Version:", &torrent.version().to_string());
    match torrent.version() {
        TorrentVersion::V2 => line(
            "Info hash:",
            &format!(
                "{} (the v2 hash cut to 20 bytes)",
                torrent.info_hash().to_hex()
            ),
        ),
        _ => line("Info hash:", &torrent.info_hash().to_hex()),
    }
    if let Some(v2) = torrent.info_hash_v2() {
        line("v2 hash:", &hex(&v2));
    }
    line("Total size:", &size_with_bytes(torrent.total_size()));
    line(
        "Piece size:",
        &format!(
            "{}, {} pieces",
            size_with_bytes(torrent.piece_length()),
            torrent.piece_count()
        ),
    );
    line("Private:", if torrent.is_private() { "yes" } else { "no" });
    if let Some(created_by) = torrent.created_by() {
        line("Created by:", created_by);
    }
    if let Some(date) = torrent.creation_date() {
        line("Created on:", &creation_time(date));
    }
    if let Some(comment) = torrent.comment() {
        line("Comment:", comment);
    }

    out.push_str("\nTrackers:\n");
    if torrent.tracker_tiers().is_empty() {
        out.push_str("  (none: peers only from DHT, PEX or web seeds)\n");
    }
    for (index, tier) in torrent.tracker_tiers().iter().enumerate() {
        out.push_str(&format!("  Tier {}:\n", index + 1));
        for url in tier {
            out.push_str(&format!("    {}\n", printable(url)));
        }
    }
    if !torrent.web_seeds().is_empty() {
        out.push_str("\nWeb seeds:\n");
        for url in torrent.web_seeds() {
            out.push_str(&format!("  {}\n", printable(url)));
        }
    }

    out.push_str(&format!("\nFiles ({}):\n", torrent.files().len()));
    for file in torrent.files() {
        let padding = if file.padding { ", padding" } else { "" };
        out.push_str(&format!(
            "  {} ({}{padding})\n",
            printable(&file.display_path()),
            human_size(file.length)
        ));
    }
    out
}

/// The same facts for scripts; sizes in bytes.
pub fn show_json(path: &Path, torrent: &Metainfo) -> serde_json::Value {
    let files: Vec<serde_json::Value> = torrent
        .files()
        .iter()
        .map(|file| {
            json!({
                "path": file.display_path(),
                "components": file.path,
                "length": file.length,
                "offset": file.offset,
                "padding": file.padding,
                "pieces_root": file.pieces_root.map(|r| hex(&r)),
            })
        })
        .collect();
    json!({
        "file": path.to_string_lossy(),
        "name": torrent.name(),
        "version": match torrent.version() {
            TorrentVersion::V1 => "v1",
            TorrentVersion::V2 => "v2",
            TorrentVersion::Hybrid => "hybrid",
        },
        "info_hash": torrent.info_hash().to_hex(),
        "info_hash_v2": torrent.info_hash_v2().map(|h| hex(&h)),
        "total_size": torrent.total_size(),
        "piece_length": torrent.piece_length(),
        "piece_count": torrent.piece_count(),
        "private": torrent.is_private(),
        "single_file": torrent.is_single_file(),
        "trackers": torrent.tracker_tiers(),
        "web_seeds": torrent.web_seeds(),
        "comment": torrent.comment(),
        "created_by": torrent.created_by(),
        "creation_date": torrent.creation_date(),
        "files": files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metainfo {
        let mut bytes = b"d8:announce9:http://t/7:comment6:hi\x1b[2J10:created by4:test13:creation datei0e4:infod5:filesld6:lengthi2000e4:pathl5:a.txteed6:lengthi5e4:pathl3:sub5:b.bineee4:name7:Caf\xc3\xa9 x12:piece lengthi1024e6:pieces40:".to_vec();
        bytes.extend_from_slice(&[1; 40]);
        bytes.extend_from_slice(b"ee");
        Metainfo::from_bytes(&bytes).unwrap()
    }

    #[test]
    fn text_report_has_every_fact() {
        let text = show_text(&sample());
        for expected in [
            "Name:       Café x\n",
            "Total size: 1.96 KiB (2005 bytes)\n",
            "Piece size: 1.00 KiB (1024 bytes), 2 pieces\n",
            "Private:    no\n",
            "Created by: test\n",
            "Created on: 1970-01-01T00:00:00.000Z\n",
            "  Tier 1:\n    http://t/\n",
            "Files (2):\n  Café x/a.txt (1.95 KiB)\n  Café x/sub/b.bin (5 B)\n",
        ] {
            assert!(text.contains(expected), "{expected:?} not in\n{text}");
        }
        // The escape sequence in the comment is shown, not sent.
        assert!(text.contains("Comment:    hi\\u{1b}[2J\n"), "{text}");
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn json_report_has_every_fact() {
        let value = show_json(Path::new("x.torrent"), &sample());
        assert_eq!(value["name"], "Café x");
        assert_eq!(value["total_size"], 2005);
        assert_eq!(value["piece_count"], 2);
        assert_eq!(value["trackers"], json!([["http://t/"]]));
        assert_eq!(value["files"][1]["path"], "Café x/sub/b.bin");
        assert_eq!(
            value["files"][1]["components"],
            json!(["Café x", "sub", "b.bin"])
        );
        assert_eq!(value["files"][1]["offset"], 2000);
        assert_eq!(value["comment"], "hi\u{1b}[2J");
        assert_eq!(value["web_seeds"], json!([]));
    }
}
