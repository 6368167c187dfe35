//! `lowspace show`: placeholder replaced by the torrent module's work.
use super::{CliError, Context};
use argh::FromArgs;

#[derive(FromArgs)]
/// print what a .torrent file holds
#[argh(subcommand, name = "show")]
pub struct ShowArgs {
    /// the .torrent file
    #[argh(positional)]
    pub file: std::path::PathBuf,
}

impl ShowArgs {
    pub fn run(self, _ctx: &mut Context) -> Result<(), CliError> {
        Err(CliError::failure(format!(
            "show is not built yet (asked for {})",
            self.file.display()
        )))
    }
}
