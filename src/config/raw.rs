//! Sections of keys and values as written, before any meaning is given to
//! them. Both syntaxes land here with line numbers, so errors can point at
//! the line whatever the syntax.

use toml::de::{DeTable, DeValue};

/// A value as the file wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A list of strings, such as `trackers = ["http://a", "udp://b"]`.
    List(Vec<String>),
    /// A string → string table, such as `[remote.rclone_env]`.
    Table(Vec<(String, String, usize)>),
    /// Something no key takes (arrays, dates, nested tables of other shapes).
    Unsupported(&'static str),
}

impl RawValue {
    /// What the value is, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            RawValue::Str(_) => "a string",
            RawValue::Int(_) => "an integer",
            RawValue::Float(_) => "a number",
            RawValue::Bool(_) => "a boolean",
            RawValue::List(_) => "a list",
            RawValue::Table(_) => "a table",
            RawValue::Unsupported(kind) => kind,
        }
    }
}

/// One key = value line.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEntry {
    pub key: String,
    pub value: RawValue,
    pub line: usize,
}

/// A `[section]` and its entries; the unnamed top of a TOML file is "".
#[derive(Debug, Clone, PartialEq)]
pub struct RawSection {
    pub name: String,
    pub line: usize,
    pub entries: Vec<RawEntry>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Reads TOML into sections: top-level scalars form section "", each table
/// a section, and a table of strings inside a section (for environment
/// variables) a [`RawValue::Table`].
pub fn from_toml(text: &str) -> Result<Vec<RawSection>, (Option<usize>, String)> {
    let document = DeTable::parse(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        let message = e.message().trim().to_string();
        (line, format!("TOML syntax error: {message}"))
    })?;
    let mut top = RawSection {
        name: String::new(),
        line: 1,
        entries: Vec::new(),
    };
    let mut sections = Vec::new();
    for (key, value) in document.get_ref() {
        let line = line_of(text, key.span().start);
        match value.get_ref() {
            DeValue::Table(table) => {
                let mut section = RawSection {
                    name: key.get_ref().to_string(),
                    line,
                    entries: Vec::new(),
                };
                for (inner_key, inner_value) in table {
                    let inner_line = line_of(text, inner_key.span().start);
                    section.entries.push(RawEntry {
                        key: inner_key.get_ref().to_string(),
                        value: scalar(text, inner_value.get_ref()),
                        line: inner_line,
                    });
                }
                sections.push(section);
            }
            other => top.entries.push(RawEntry {
                key: key.get_ref().to_string(),
                value: scalar(text, other),
                line,
            }),
        }
    }
    sections.insert(0, top);
    Ok(sections)
}

fn scalar(text: &str, value: &DeValue) -> RawValue {
    match value {
        DeValue::String(s) => RawValue::Str(s.to_string()),
        DeValue::Integer(i) => {
            let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
            let digits = digits
                .trim_start_matches("0x")
                .trim_start_matches("0o")
                .trim_start_matches("0b");
            match i64::from_str_radix(digits, i.radix()) {
                Ok(v) => RawValue::Int(v),
                Err(_) => RawValue::Unsupported("an integer out of range"),
            }
        }
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(v) => RawValue::Float(v),
            Err(_) => RawValue::Unsupported("a number that is not finite"),
        },
        DeValue::Boolean(b) => RawValue::Bool(*b),
        DeValue::Datetime(_) => RawValue::Unsupported("a date"),
        DeValue::Array(items) => {
            let mut strings = Vec::new();
            for item in items {
                match item.get_ref() {
                    DeValue::String(s) => strings.push(s.to_string()),
                    _ => return RawValue::Unsupported("a list whose items are not all strings"),
                }
            }
            RawValue::List(strings)
        }
        DeValue::Table(table) => {
            let mut pairs = Vec::new();
            for (k, v) in table {
                match v.get_ref() {
                    DeValue::String(s) => pairs.push((
                        k.get_ref().to_string(),
                        s.to_string(),
                        line_of(text, k.span().start),
                    )),
                    _ => return RawValue::Unsupported("a table whose values are not all strings"),
                }
            }
            RawValue::Table(pairs)
        }
    }
}
