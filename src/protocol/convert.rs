//! The edge between the engine's codec-neutral data and the JSON variant's
//! wire types: payload bytes become embedded JSON, engine client info the
//! protocol's. Tandem's payloads are JSON text, so this only checks them.

use super::payload::Json;
use super::reply::{ClientInfo, Publication};
use crate::engine;

/// A payload that is not JSON text cannot travel on the JSON variant.
#[derive(Debug, thiserror::Error)]
#[error("payload is not JSON: {0}")]
pub struct NotJson(#[from] serde_json::Error);

impl Json {
    /// The payload's bytes as embedded JSON.
    pub fn from_payload(payload: &engine::Payload) -> Result<Self, NotJson> {
        let text = std::str::from_utf8(payload.as_bytes())
            .map_err(|e| NotJson(serde::de::Error::custom(format!("not UTF-8: {e}"))))?;
        Ok(Json::from_text(text)?)
    }

    /// The embedded JSON as a payload (its bytes, unchanged).
    pub fn to_payload(&self) -> engine::Payload {
        engine::Payload::from_bytes(self.get().as_bytes().to_vec())
    }
}

impl TryFrom<&engine::ClientInfo> for ClientInfo {
    type Error = NotJson;

    fn try_from(info: &engine::ClientInfo) -> Result<Self, NotJson> {
        Ok(Self {
            user: info.user.clone(),
            client: info.client.clone(),
            conn_info: info
                .conn_info
                .as_ref()
                .map(Json::from_payload)
                .transpose()?,
            chan_info: info
                .chan_info
                .as_ref()
                .map(Json::from_payload)
                .transpose()?,
        })
    }
}

impl TryFrom<&engine::Publication> for Publication {
    type Error = NotJson;

    fn try_from(publication: &engine::Publication) -> Result<Self, NotJson> {
        Ok(Self {
            data: Json::from_payload(&publication.data)?,
            info: publication
                .info
                .as_ref()
                .map(ClientInfo::try_from)
                .transpose()?,
            offset: publication.offset,
            tags: publication.tags.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_bytes_stay_byte_identical() {
        let text = r#"{"b":[1, 2],"a":"x"}"#;
        let payload = engine::Payload::from_bytes(text.as_bytes().to_vec());
        assert_eq!(Json::from_payload(&payload).unwrap().get(), text);
        assert!(Json::from_payload(&engine::Payload::from_bytes(vec![0xff])).is_err());
    }
}
