//! Where rtorrent puts new downloads, made absolute the way rtorrent does
//! (rotate's budget and deletion guard and follow's placement both need it).

use std::path::{Path, PathBuf};

use super::xmlrpc::Value;
use super::{Call, Client, RpcError};

/// The calls that tell where rtorrent puts new downloads: its
/// `directory.default` as written in its rc, plus its working directory
/// and HOME to make that absolute (`~/download` and `./download` are the
/// usual forms, and rtorrent hands them back unexpanded).
pub fn directory_calls() -> [Call; 3] {
    [
        Call::new("directory.default", vec![]),
        Call::new("system.cwd", vec![]),
        Call::new("system.env", vec![Value::str(""), Value::str("HOME")]),
    ]
}

pub fn directory_from_results(
    results: &mut impl Iterator<Item = Result<Value, RpcError>>,
) -> Result<PathBuf, String> {
    let text = |r: Option<Result<Value, RpcError>>| -> Option<String> {
        r.and_then(|v| v.ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|s| !s.is_empty())
    };
    let raw = match results.next() {
        Some(Ok(v)) => v.as_str().unwrap_or_default().to_string(),
        Some(Err(e)) => return Err(e.to_string()),
        None => String::new(),
    };
    let cwd = text(results.next());
    let home = text(results.next());
    resolve_download_directory(&raw, cwd.as_deref(), home.as_deref())
}

/// Makes rtorrent's `directory.default` absolute the way rtorrent does:
/// `~` is rtorrent's HOME, a relative path is relative to its working
/// directory. Pure, so every form is tested.
pub fn resolve_download_directory(
    raw: &str,
    cwd: Option<&str>,
    home: Option<&str>,
) -> Result<PathBuf, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(
            "rtorrent has no directory.default; set directory.default.set in its rc".into(),
        );
    }
    if raw == "~" || raw.starts_with("~/") {
        let home = home.ok_or_else(|| {
            format!(
                "rtorrent's directory.default is {raw:?} and rtorrent does not tell its HOME; \
                 write an absolute path in its rc"
            )
        })?;
        return Ok(Path::new(home).join(raw.trim_start_matches('~').trim_start_matches('/')));
    }
    let path = Path::new(raw);
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = cwd.ok_or_else(|| {
        format!(
            "rtorrent's directory.default is the relative path {raw:?} and rtorrent does not \
             tell its working directory; write an absolute path in its rc"
        )
    })?;
    Ok(Path::new(cwd).join(path))
}

/// rtorrent's download directory, absolute, in one round trip.
pub fn download_directory(client: &Client) -> Result<PathBuf, String> {
    let mut results = client
        .multicall(&directory_calls())
        .map_err(|e| e.to_string())?
        .into_iter();
    directory_from_results(&mut results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_directory_forms() {
        let r = |raw, cwd, home| resolve_download_directory(raw, cwd, home);
        assert_eq!(r("/srv/dl/", None, None), Ok(PathBuf::from("/srv/dl/")));
        assert_eq!(
            r("~/download/", Some("/"), Some("/home/pi")),
            Ok(PathBuf::from("/home/pi/download/"))
        );
        assert_eq!(
            r("~", None, Some("/home/pi")),
            Ok(PathBuf::from("/home/pi"))
        );
        assert_eq!(
            r("./download", Some("/home/pi"), None),
            Ok(PathBuf::from("/home/pi/./download"))
        );
        assert!(r("~/d", Some("/"), None).unwrap_err().contains("HOME"));
        assert!(r("d", None, None)
            .unwrap_err()
            .contains("working directory"));
        assert!(r("  ", None, None)
            .unwrap_err()
            .contains("directory.default.set"));
    }
}
