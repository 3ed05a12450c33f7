//! Application payloads (`data`, `info`, `conn_info`, `chan_info`).
//!
//! In the JSON protocol these are raw embedded JSON, not strings. [`Json`] keeps
//! the client's bytes as they came (validated once on the way in) and shares them
//! with `Arc`, so a payload fanned out to many subscribers is never copied or
//! re-parsed. Raw newline bytes are stripped on the way in because `\n` separates
//! messages in a frame (inside valid JSON they can only be whitespace).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A validated JSON value kept as shared raw text.
#[derive(Clone)]
pub struct Json(Arc<RawValue>);

impl Json {
    /// Parses `text` as JSON; newline bytes are removed first.
    pub fn from_text(text: &str) -> Result<Self, serde_json::Error> {
        let cleaned = strip_newlines(text);
        let raw = RawValue::from_string(cleaned)?;
        Ok(Self(Arc::from(raw)))
    }

    /// Serialises any value into a payload.
    pub fn from_value<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        let raw = serde_json::value::to_raw_value(value)?;
        Ok(Self(Arc::from(raw)))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Parses the payload into a typed value.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// Size of the JSON text in bytes.
    pub fn len(&self) -> usize {
        self.0.get().len()
    }

    /// Whether the payload is empty text (never true for a parsed payload).
    pub fn is_empty(&self) -> bool {
        self.0.get().is_empty()
    }
}

fn strip_newlines(text: &str) -> String {
    if text.contains(['\n', '\r']) {
        text.chars().filter(|c| *c != '\n' && *c != '\r').collect()
    } else {
        text.to_owned()
    }
}

impl PartialEq for Json {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(deserializer)?;
        if raw.get().contains(['\n', '\r']) {
            Json::from_text(raw.get()).map_err(serde::de::Error::custom)
        } else {
            Ok(Self(Arc::from(raw)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_raw_json_and_strips_newlines() {
        let j: Json = serde_json::from_str("{\"a\":\n 1}").unwrap();
        assert_eq!(j.get(), "{\"a\": 1}");
        assert_eq!(serde_json::to_string(&j).unwrap(), "{\"a\": 1}");
    }

    #[test]
    fn rejects_invalid_json() {
        assert!(Json::from_text("{nope").is_err());
    }
}
