//! Free-form data kept with a session: the `req.session` of express-session.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A value could not be turned into JSON, or back into the type asked for.
#[derive(Debug, thiserror::Error)]
#[error("session data under {key:?} does not match the requested type")]
pub struct DataError {
    key: String,
    #[source]
    source: serde_json::Error,
}

/// Key-value data kept on the server with a session, typed at the edges.
///
/// ```
/// use cloakroom::session::SessionData;
///
/// let mut data = SessionData::default();
/// data.insert("visits", 3u32)?;
/// assert_eq!(data.get::<u32>("visits")?, Some(3));
/// assert_eq!(data.get::<u32>("missing")?, None);
/// assert!(data.get::<String>("visits").is_err());
/// # Ok::<(), cloakroom::session::DataError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionData(Map<String, Value>);

impl SessionData {
    /// The value under `key`, as a `T`; `None` when there is none.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, DataError> {
        self.0
            .get(key)
            .map(|v| T::deserialize(v))
            .transpose()
            .map_err(|source| DataError {
                key: key.to_owned(),
                source,
            })
    }

    /// Stores `value` under `key`, returning the JSON value it replaced.
    pub fn insert<T: Serialize>(
        &mut self,
        key: &str,
        value: T,
    ) -> Result<Option<Value>, DataError> {
        let value = serde_json::to_value(value).map_err(|source| DataError {
            key: key.to_owned(),
            source,
        })?;
        Ok(self.0.insert(key.to_owned(), value))
    }

    /// Removes the value under `key`.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }

    /// Whether there is no data.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The data as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The data as JSON text, for stores that keep text.
    pub fn to_json(&self) -> String {
        // A map of JSON values always serializes.
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads data written by [`to_json`](Self::to_json).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
