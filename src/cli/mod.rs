//! The imperative shell: parses arguments, sets up logging, finds the
//! configuration and hands over to one subcommand.
//!
//! Everything a command needs from the outside world arrives through [`Env`]
//! (arguments, environment variables, output streams), so tests can run the
//! whole CLI in-process with a fake home directory and captured output.

use std::fmt;
use std::io::Write;
use std::path::PathBuf;

use argh::FromArgs;

use crate::config::{Config, ConfigError};
pub use crate::env::Env;
use crate::logging::{self, LogTarget};

mod check;
mod config;
mod fish;
mod follow;
mod magnet;
mod rotate;
mod rpc;
mod show;
mod status;
mod tree;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for a failure while doing the work (remote down, rtorrent gone).
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for a usage or configuration error: the user must change something.
pub const EXIT_USAGE: i32 = 2;

/// Why a command stopped, and which exit code that means.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    /// The work failed; running again later may succeed.
    pub fn failure(message: impl Into<String>) -> CliError {
        CliError {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }
    /// The user must change the command line or the configuration.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> CliError {
        CliError::usage(e.to_string())
    }
}

#[derive(FromArgs)]
/// lowspace: rotates torrents through a small disk into big storage, builds
/// per-file torrent trees, mirrors torrent listings and keeps magnets alive.
#[argh(
    example = "Show what is inside a torrent file:\n  $ {command_name} show ubuntu.iso.torrent",
    example = "Use another configuration file and log without timestamps (systemd):\n  $ {command_name} --config /etc/lowspace.toml --log-systemd show a.torrent",
    note = "Configuration is read from --config FILE, else $XDG_CONFIG_HOME/lowspace/config.toml, \
else ~/.config/lowspace/config.toml, else the original driver's ~/.rtorrent_low_space_driver.cf. \
Exit codes: 0 success, 1 failure, 2 usage or configuration error."
)]
struct TopLevel {
    /// configuration file: TOML, or the original driver's INI with a [main] section
    #[argh(option)]
    config: Option<PathBuf>,

    /// log level: error, warn, info, debug or trace (default: the config's log_level, else info)
    #[argh(option)]
    log_level: Option<String>,

    /// append the log to this file, with timestamps, instead of standard error
    #[argh(option)]
    log_file: Option<PathBuf>,

    /// log for the systemd journal: no timestamps, priority prefixes
    #[argh(switch)]
    log_systemd: bool,

    /// print the version and exit
    #[argh(switch)]
    version: bool,

    #[argh(subcommand)]
    command: Option<Command>,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Config(config::ConfigArgs),
    Rotate(rotate::RotateArgs),
    Status(status::StatusArgs),
    Check(check::CheckArgs),
    Rpc(rpc::RpcArgs),
    Show(show::ShowArgs),
    Magnet(magnet::MagnetArgs),
    Tree(tree::TreeArgs),
    Follow(follow::FollowArgs),
    Fish(fish::FishArgs),
}

impl Command {
    fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        match self {
            Command::Config(args) => args.run(ctx),
            Command::Rotate(args) => args.run(ctx),
            Command::Status(args) => args.run(ctx),
            Command::Check(args) => args.run(ctx),
            Command::Rpc(args) => args.run(ctx),
            Command::Show(args) => args.run(ctx),
            Command::Magnet(args) => args.run(ctx),
            Command::Tree(args) => args.run(ctx),
            Command::Follow(args) => args.run(ctx),
            Command::Fish(args) => args.run(ctx),
        }
    }
}

/// What every command gets: the environment and the configuration, which is
/// loaded only when a command asks for it (so `show` works without one).
pub struct Context<'env> {
    pub env: &'env Env,
    config_path: Option<PathBuf>,
    config: Option<Result<Config, ConfigError>>,
    logging_ready: bool,
    warned: bool,
}

impl<'env> Context<'env> {
    /// The loaded configuration, or the reason there is none.
    pub fn config(&mut self) -> Result<&Config, CliError> {
        if self.config.is_none() {
            self.config = Some(load_config(self.env, self.config_path.as_deref()));
        }
        self.warn_once();
        match self.config.as_ref() {
            Some(Ok(config)) => Ok(config),
            Some(Err(e)) => Err(CliError::usage(e.to_string())),
            None => Err(CliError::usage("configuration was not loaded")),
        }
    }

    /// The configuration when there is one (given with --config or found
    /// in a default place), for commands that work without one too. A file
    /// that is there but broken is still an error.
    pub fn config_if_present(&mut self) -> Result<Option<&Config>, CliError> {
        if self.config_path.is_none() && crate::config::locate(self.env, None).is_err() {
            return Ok(None);
        }
        self.config().map(Some)
    }

    /// Deprecations and the like, logged once the logger is there.
    fn warn_once(&mut self) {
        if self.warned || !self.logging_ready {
            return;
        }
        if let Some(Ok(config)) = &self.config {
            self.warned = true;
            for warning in &config.warnings {
                log::warn!("{warning}");
            }
        }
    }

    /// Writes a report line to standard output.
    pub fn out(&self) -> std::cell::RefMut<'_, Box<dyn Write>> {
        self.env.stdout.borrow_mut()
    }
}

fn load_config(env: &Env, explicit: Option<&std::path::Path>) -> Result<Config, ConfigError> {
    let path = crate::config::locate(env, explicit)?;
    crate::config::load(&path)
}

/// Runs the CLI and returns the process exit code.
pub fn run(env: &Env) -> i32 {
    let args: Vec<&str> = env.args.iter().map(String::as_str).collect();
    let mut top = match TopLevel::from_args(&["lowspace"], &args) {
        Ok(top) => top,
        Err(early) => {
            return match early.status {
                Ok(()) => {
                    let _ = writeln!(env.stdout.borrow_mut(), "{}", early.output.trim_end());
                    EXIT_OK
                }
                Err(()) => {
                    let _ = writeln!(
                        env.stderr.borrow_mut(),
                        "{}\nRun 'lowspace --help' for usage.",
                        early.output.trim_end()
                    );
                    EXIT_USAGE
                }
            };
        }
    };
    if top.version {
        let _ = writeln!(
            env.stdout.borrow_mut(),
            "lowspace {}",
            env!("CARGO_PKG_VERSION")
        );
        return EXIT_OK;
    }
    let Some(command) = top.command.take() else {
        let _ = writeln!(
            env.stderr.borrow_mut(),
            "lowspace: a subcommand is needed. Run 'lowspace --help' for the list."
        );
        return EXIT_USAGE;
    };

    let mut ctx = Context {
        env,
        config_path: top.config.clone(),
        config: None,
        logging_ready: false,
        warned: false,
    };
    match setup_logging(&top, &mut ctx) {
        Ok(()) => {}
        Err(e) => return report(env, e),
    }
    match command.run(&mut ctx) {
        Ok(()) => EXIT_OK,
        Err(e) => report(env, e),
    }
}

fn report(env: &Env, e: CliError) -> i32 {
    log::debug!("exiting with code {}: {}", e.code, e.message);
    let _ = writeln!(env.stderr.borrow_mut(), "lowspace: {}", e.message);
    e.code
}

/// Level from the command line, then the configuration (when one is there and
/// parses), then info.
fn setup_logging(top: &TopLevel, ctx: &mut Context) -> Result<(), CliError> {
    let level = match &top.log_level {
        Some(text) => Some(
            logging::parse_level(text).map_err(|e| CliError::usage(format!("--log-level: {e}")))?,
        ),
        None => None,
    };
    let level = match level {
        Some(level) => level,
        None => {
            // A configuration that is only found by default and is broken must
            // not stop `show`; the command that needs it reports the error.
            let wanted = top.config.is_some() || crate::config::locate(ctx.env, None).is_ok();
            let from_config = if wanted {
                ctx.config().ok().and_then(|c| c.log_level)
            } else {
                None
            };
            from_config.unwrap_or(log::LevelFilter::Info)
        }
    };
    let target = match (&top.log_file, top.log_systemd) {
        (Some(path), _) => LogTarget::File(path.clone()),
        (None, true) => LogTarget::Systemd,
        (None, false) => LogTarget::Terminal,
    };
    logging::init(level, target).map_err(|e| CliError::usage(e.to_string()))?;
    ctx.logging_ready = true;
    ctx.warn_once();
    Ok(())
}
