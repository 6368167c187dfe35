//! `lowspace rpc`: one raw XML-RPC call to rtorrent, for people who script
//! it (like pyrosimple's rtxmlrpc). Arguments are typed by a simple rule so
//! shell scripts need no XML: integers become i8, `+N`/`-N` are integers
//! too, `@file` is the file's bytes as base64, everything else a string
//! (including the empty target many commands take first).

use std::fmt::Write as _;

use argh::FromArgs;

use super::{CliError, Context};
use crate::rtorrent::xmlrpc::Value;
use crate::rtorrent::{Client, RpcError};

#[derive(FromArgs)]
/// call one rtorrent XML-RPC method and print the result
#[argh(
    subcommand,
    name = "rpc",
    example = "rtorrent's version:\n  $ {command_name} system.client_version",
    example = "Name and size of every download (the empty first argument is the target):\n  $ {command_name} d.multicall2 '' main d.hash= d.name= d.size_bytes=",
    example = "Load a torrent from a file through the connection, started:\n  $ {command_name} load.raw_start '' @ubuntu.torrent",
    example = "Against another rtorrent, as JSON:\n  $ {command_name} --socket-url scgi://127.0.0.1:5000 --json d.multicall2 '' main d.name=",
    note = "Arguments: 123, +123 and -123 are integers (i8), but not with a leading zero (0042 stays text, like an all-digit info-hash); @FILE is FILE's bytes as base64; anything else is a string. \
Rows of an array are printed one per line, tab-separated."
)]
pub struct RpcArgs {
    /// rtorrent's socket_url (default: the configuration's socket_url)
    #[argh(option)]
    socket_url: Option<String>,

    /// print the result as JSON
    #[argh(switch)]
    json: bool,

    /// the XML-RPC method, e.g. d.multicall2
    #[argh(positional)]
    method: String,

    /// the method's arguments
    #[argh(positional, greedy)]
    args: Vec<String>,
}

/// How one command-line argument is passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgKind {
    Int(i64),
    /// `@path`: the file's contents as base64.
    File(String),
    Str(String),
}

/// The typing rule for `lowspace rpc` arguments.
pub fn classify_arg(text: &str) -> ArgKind {
    if let Some(path) = text.strip_prefix('@') {
        if !path.is_empty() {
            return ArgKind::File(path.to_string());
        }
    }
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    // A leading zero marks text, not a number: an info-hash can be all
    // digits ("0000...") and must stay a string.
    let leading_zero = digits.len() > 1 && digits.starts_with('0');
    if !digits.is_empty() && !leading_zero && digits.bytes().all(|b| b.is_ascii_digit()) {
        let unsigned = text.strip_prefix('+').unwrap_or(text);
        if let Ok(n) = unsigned.parse::<i64>() {
            return ArgKind::Int(n);
        }
    }
    ArgKind::Str(text.to_string())
}

impl RpcArgs {
    pub fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        let socket_url = match self.socket_url {
            Some(url) => url,
            None => ctx.config()?.rtorrent.socket_url.clone().ok_or_else(|| {
                CliError::usage(
                    "no socket_url: give --socket-url or set socket_url in the configuration",
                )
            })?,
        };
        let client = Client::new(&socket_url).map_err(|e| CliError::usage(e.to_string()))?;
        let mut params = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            params.push(match classify_arg(arg) {
                ArgKind::Int(n) => Value::Int(n),
                ArgKind::Str(s) => Value::String(s),
                ArgKind::File(path) => Value::Base64(
                    std::fs::read(&path)
                        .map_err(|e| CliError::usage(format!("argument @{path}: {e}")))?,
                ),
            });
        }
        log::debug!("calling {} with {} arguments", self.method, params.len());
        let value = client.call(&self.method, &params).map_err(|e| match e {
            RpcError::SocketUrl(_) => CliError::usage(e.to_string()),
            _ => CliError::failure(e.to_string()),
        })?;
        let text = if self.json {
            serde_json::to_string_pretty(&value.to_json())
                .map_err(|e| CliError::failure(format!("JSON output: {e}")))?
        } else {
            render(&value)
        };
        let mut out = ctx.out();
        writeln!(out, "{}", text.trim_end_matches('\n'))
            .map_err(|e| CliError::failure(format!("writing the result: {e}")))?;
        Ok(())
    }
}

/// Readable text: scalars as they are, arrays one item per line (a row of
/// scalars inside an array as one tab-separated line), structs as
/// `name: value`, nesting indented by two spaces.
pub fn render(value: &Value) -> String {
    let mut out = String::new();
    render_into(&mut out, value, 0);
    out
}

fn scalar(value: &Value) -> Option<String> {
    Some(match value {
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) | Value::DateTime(s) => s.clone(),
        Value::Double(d) => d.to_string(),
        Value::Base64(b) => format!("base64:{}", crate::base64::encode(b)),
        Value::Nil => "nil".into(),
        Value::Array(_) | Value::Struct(_) => return None,
    })
}

fn render_into(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Array(row) if row.iter().all(|v| scalar(v).is_some()) => {
                        let cells: Vec<String> = row.iter().filter_map(scalar).collect();
                        let _ = writeln!(out, "{pad}{}", cells.join("\t"));
                    }
                    Value::Array(_) | Value::Struct(_) => {
                        let _ = writeln!(out, "{pad}-");
                        render_into(out, item, indent + 2);
                    }
                    _ => {
                        let _ = writeln!(out, "{pad}{}", scalar(item).unwrap_or_default());
                    }
                }
            }
        }
        Value::Struct(members) => {
            for (name, v) in members {
                match scalar(v) {
                    Some(text) => {
                        let _ = writeln!(out, "{pad}{name}: {text}");
                    }
                    None => {
                        let _ = writeln!(out, "{pad}{name}:");
                        render_into(out, v, indent + 2);
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", scalar(other).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_typing_rule() {
        assert_eq!(classify_arg("42"), ArgKind::Int(42));
        assert_eq!(classify_arg("+42"), ArgKind::Int(42));
        assert_eq!(classify_arg("-42"), ArgKind::Int(-42));
        assert_eq!(classify_arg("5000000000"), ArgKind::Int(5_000_000_000));
        assert_eq!(classify_arg(""), ArgKind::Str(String::new()));
        assert_eq!(classify_arg("d.name="), ArgKind::Str("d.name=".into()));
        assert_eq!(classify_arg("-"), ArgKind::Str("-".into()));
        assert_eq!(classify_arg("1.5"), ArgKind::Str("1.5".into()));
        assert_eq!(
            classify_arg("@a.torrent"),
            ArgKind::File("a.torrent".into())
        );
        assert_eq!(classify_arg("@"), ArgKind::Str("@".into()));
        assert_eq!(classify_arg("0"), ArgKind::Int(0));
        let digits_hash = "0".repeat(40);
        assert_eq!(
            classify_arg(&digits_hash),
            ArgKind::Str(digits_hash.clone())
        );
        assert_eq!(classify_arg("007"), ArgKind::Str("007".into()));
        // too big for i64: kept as text rather than silently wrapped
        assert_eq!(
            classify_arg("99999999999999999999"),
            ArgKind::Str("99999999999999999999".into())
        );
    }

    #[test]
    fn rendering() {
        let rows = Value::Array(vec![
            Value::Array(vec![Value::str("AB"), Value::Int(1)]),
            Value::Array(vec![Value::str("CD"), Value::Int(2)]),
        ]);
        assert_eq!(render(&rows), "AB\t1\nCD\t2\n");
        assert_eq!(render(&Value::str("0.9.8")), "0.9.8\n");
        let s = Value::Struct(vec![
            ("a".into(), Value::Int(1)),
            ("b".into(), Value::Array(vec![Value::Int(2), Value::Int(3)])),
        ]);
        assert_eq!(render(&s), "a: 1\nb:\n  2\n  3\n");
    }
}
