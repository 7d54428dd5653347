//! The top-level `trusted_proxies` and `forwarded_header`: which reverse proxies may tell the
//! server the client's address, and in which header.

use cloakroom_axum::{ForwardedHeader, TrustedProxies};
use serde::{Deserialize, Deserializer, Serialize};

use super::Settings;
use super::checks::invalid_because;
use crate::error::Error;

/// The header trusted proxies report the client's address in (`forwarded_header`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeaderName {
    /// `x-forwarded-for`: the default.
    #[default]
    XForwardedFor,
    /// `forwarded` (RFC 7239).
    Forwarded,
    /// `x-real-ip`.
    XRealIp,
}

impl From<ForwardedHeaderName> for ForwardedHeader {
    fn from(h: ForwardedHeaderName) -> Self {
        match h {
            ForwardedHeaderName::XForwardedFor => Self::XForwardedFor,
            ForwardedHeaderName::Forwarded => Self::Forwarded,
            ForwardedHeaderName::XRealIp => Self::XRealIp,
        }
    }
}

/// A list, or one string of comma-separated entries (handy in an environment variable:
/// `CLOAKROOM_TRUSTED_PROXIES=10.0.0.0/8,fd00::/8`).
pub(super) fn list_or_commas<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        One(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(list) => list,
        Either::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

impl Settings {
    /// The trusted proxies these settings name.
    pub fn trusted_proxies(&self) -> Result<TrustedProxies, Error> {
        TrustedProxies::new(&self.trusted_proxies, self.forwarded_header.into())
            .map_err(|e| invalid_because("trusted_proxies", e))
    }
}
