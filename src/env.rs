//! What a command sees of the process (arguments, environment variables,
//! output streams), apart from the CLI so that config, below it, can look
//! up HOME and XDG_CONFIG_HOME without depending on the shell above.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;

/// What a command sees of the process: arguments, environment, output.
pub struct Env {
    /// Arguments without the program name.
    pub args: Vec<String>,
    /// Environment variables (HOME, XDG_CONFIG_HOME, ...).
    pub vars: HashMap<String, String>,
    /// Where reports go.
    pub stdout: std::cell::RefCell<Box<dyn Write>>,
    /// Where the final error line goes.
    pub stderr: std::cell::RefCell<Box<dyn Write>>,
}

impl Env {
    /// The real process environment. Arguments that are not valid UTF-8 are
    /// kept lossily so the usage error can still name them.
    pub fn from_process() -> Env {
        let args = std::env::args_os()
            .skip(1)
            .map(|a: OsString| a.to_string_lossy().into_owned())
            .collect();
        let vars = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        Env {
            args,
            vars,
            stdout: std::cell::RefCell::new(Box::new(std::io::stdout())),
            stderr: std::cell::RefCell::new(Box::new(std::io::stderr())),
        }
    }

    /// A variable that is set and not empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}
