//! One XML-RPC value. `i4`, `i8` and `int` all become [`Value::Int`]: rtorrent
//! sizes exceed 2^32, and the distinction carries no meaning for callers.

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    String(String),
    Double(f64),
    Base64(Vec<u8>),
    /// `dateTime.iso8601`, kept as the text the server sent.
    DateTime(String),
    Array(Vec<Value>),
    /// Members in the order received (XML-RPC allows duplicates; first wins on lookup).
    Struct(Vec<(String, Value)>),
    Nil,
}

impl Value {
    pub fn str(text: impl Into<String>) -> Value {
        Value::String(text.into())
    }

    /// The type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Bool(_) => "boolean",
            Value::String(_) => "string",
            Value::Double(_) => "double",
            Value::Base64(_) => "base64",
            Value::DateTime(_) => "dateTime",
            Value::Array(_) => "array",
            Value::Struct(_) => "struct",
            Value::Nil => "nil",
        }
    }

    /// An integer, also from a numeric string or a boolean (rtorrent answers
    /// some fields as strings depending on the command).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Bool(b) => Some(i64::from(*b)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// A struct member by name.
    pub fn member(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// JSON for `lowspace rpc --json`: base64 becomes its base64 text,
    /// dates their ISO text, nil null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Int(n) => J::from(*n),
            Value::Bool(b) => J::from(*b),
            Value::String(s) | Value::DateTime(s) => J::from(s.as_str()),
            Value::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
            Value::Base64(bytes) => J::from(crate::base64::encode(bytes)),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Struct(members) => J::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Value::Nil => J::Null,
        }
    }
}
