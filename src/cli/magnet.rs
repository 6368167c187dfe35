//! `lowspace magnet`: the magnet link of a .torrent, with its trackers and
//! web seeds, so a torrent can be shared as one line of text.
use std::path::PathBuf;

use std::io::Write as _;

use argh::FromArgs;

use super::show::load_torrent;
use super::{CliError, Context};
use crate::torrent::MagnetLink;

#[derive(FromArgs)]
/// print the magnet link of a .torrent file, with every tracker (tr=) and
/// web seed (ws=)
#[argh(
    subcommand,
    name = "magnet",
    example = "Print the magnet link:\n  $ {command_name} ubuntu.iso.torrent",
    example = "Add web seeds (HTTP servers holding the same files) to the link:\n  $ {command_name} album.torrent --webseed https://files.example.org/music/ --webseed https://mirror.example.net/music/",
    note = "The link carries the info-hash, the name (dn=), every tracker of every tier once \
(tr=) and the torrent's url-list plus each --webseed (ws=). Exit codes: 0 printed, 1 the file \
cannot be read or is not a valid torrent, 2 usage error."
)]
pub struct MagnetArgs {
    /// an extra web seed (BEP 19) URL, http:// or https://; may be repeated
    #[argh(option)]
    pub webseed: Vec<String>,

    /// the .torrent file
    #[argh(positional)]
    pub file: PathBuf,
}

impl MagnetArgs {
    pub fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        for url in &self.webseed {
            check_web_seed(url)?;
        }
        let torrent = load_torrent(&self.file)?;
        let mut magnet = MagnetLink::for_torrent(&torrent);
        for url in &self.webseed {
            magnet.add_web_seed(url);
        }
        writeln!(ctx.out(), "{}", magnet.to_uri())
            .map_err(|e| CliError::failure(format!("cannot write to standard output: {e}")))
    }
}

/// A web seed is fetched over HTTP by every client that reads the link, so
/// anything else is a typo worth stopping for.
fn check_web_seed(url: &str) -> Result<(), CliError> {
    let lower = url.to_ascii_lowercase();
    let has_host = ["http://", "https://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len());
    if has_host && !url.chars().any(char::is_whitespace) {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "--webseed {url:?}: expected an http:// or https:// URL"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_seed_urls_are_checked() {
        assert!(check_web_seed("http://h/").is_ok());
        assert!(check_web_seed("HTTPS://h/files/").is_ok());
        for bad in ["", "http://", "ftp://h/", "h/files", "http://h/a b"] {
            let error = check_web_seed(bad).unwrap_err();
            assert_eq!(error.code, crate::cli::EXIT_USAGE, "{bad}");
            assert!(error.message.contains("--webseed"), "{}", error.message);
        }
    }
}
