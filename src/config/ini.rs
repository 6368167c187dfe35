//! The original driver's INI syntax, as Python's configparser read it:
//! `[section]` headers, `key = value` or `key: value`, `#`/`;` comment lines,
//! and inline comments after whitespace (` # like this`).

use super::raw::{RawEntry, RawSection, RawValue};

/// Parses INI text; an error carries its 1-based line.
pub fn parse(text: &str) -> Result<Vec<RawSection>, (usize, String)> {
    let mut sections: Vec<RawSection> = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = strip_inline_comment(raw_line).trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| {
                    (
                        line_no,
                        format!("section header \"{line}\" has no closing ']'"),
                    )
                })?
                .trim();
            if name.is_empty() {
                return Err((line_no, "empty section name \"[]\"".to_string()));
            }
            sections.push(RawSection {
                name: name.to_string(),
                line: line_no,
                entries: Vec::new(),
            });
            continue;
        }
        let split = line.find(['=', ':']).ok_or_else(|| {
            (
                line_no,
                format!("expected \"key = value\", found \"{line}\""),
            )
        })?;
        let key = line[..split].trim().to_ascii_lowercase();
        let value = line[split + 1..].trim();
        if key.is_empty() {
            return Err((line_no, format!("a value with no key: \"{line}\"")));
        }
        let section = sections.last_mut().ok_or_else(|| {
            (
                line_no,
                format!("\"{key}\" comes before any [section] header; put it under [main]"),
            )
        })?;
        section.entries.push(RawEntry {
            key,
            value: RawValue::Str(unquote(value).to_string()),
            line: line_no,
        });
    }
    Ok(sections)
}

/// configparser treats `#` or `;` after whitespace as the start of a comment.
fn strip_inline_comment(line: &str) -> &str {
    let cut = line
        .as_bytes()
        .windows(2)
        .position(|w| matches!(w, [before, b'#' | b';'] if before.is_ascii_whitespace()));
    // The comment starts after the whitespace, a char boundary as the
    // whitespace is ASCII.
    match cut.and_then(|i| line.get(..i + 1)) {
        Some(kept) => kept,
        None => line,
    }
}

/// Tolerates values written in quotes, which configparser would have kept
/// literally but no path or size in this file can mean.
fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_and_comments() {
        let text = "# header\n[main]\nspace_limit = 3 GiB   # three\nsocket_url: scgi:///x.sock ; inline\n; full\nKEY = v#not-a-comment\n";
        let sections = parse(text).unwrap();
        assert_eq!(sections.len(), 1);
        let entries = &sections[0].entries;
        assert_eq!(entries[0].key, "space_limit");
        assert_eq!(entries[0].value, RawValue::Str("3 GiB".into()));
        assert_eq!(entries[0].line, 3);
        assert_eq!(entries[1].value, RawValue::Str("scgi:///x.sock".into()));
        assert_eq!(entries[2].key, "key");
        assert_eq!(entries[2].value, RawValue::Str("v#not-a-comment".into()));
    }

    #[test]
    fn each_error_names_its_line() {
        for (text, line, fragment) in [
            ("[main\nx=1", 1, "no closing"),
            ("x = 1\n", 1, "before any [section]"),
            ("[main]\njust words\n", 2, "expected \"key = value\""),
            ("[main]\n= 5\n", 2, "no key"),
            ("[]\n", 1, "empty section"),
        ] {
            let (got_line, msg) = parse(text).unwrap_err();
            assert_eq!(got_line, line, "{text}");
            assert!(msg.contains(fragment), "{text}: {msg}");
        }
    }
}
