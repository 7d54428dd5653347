//! The revocation bus's state, as `/readyz` and `/metrics` report it: which bus, whether it
//! is connected or reconnecting, how often it has connected, and when this node last reloaded
//! what is stored.

use cloakroom::clock::Timestamp;
use cloakroom::revocation::BusStatus;
use serde_json::{Value, json};

use crate::App;
use crate::prometheus::{BUS_CONNECTED, BUS_CONNECTIONS, BUS_LAST_RELOAD};

/// One look at the bus.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BusState {
    /// `redis` or `postgres`.
    pub kind: &'static str,
    /// What the bus says about itself.
    pub status: BusStatus,
    /// When this node last loaded the whole stored list: the deny-list's reload in the token
    /// modes; in session mode, the near-cache's drop when the bus last (re)connected.
    pub last_reload: Option<Timestamp>,
}

impl BusState {
    /// The bus of `app`, if it has one.
    pub fn of(app: &App) -> Option<Self> {
        let stores = app.stores();
        let bus = stores.bus.as_ref()?;
        let status = bus.status();
        let last_reload = match app.tokens() {
            Some(tokens) => Some(tokens.revocations().last_reload()),
            None => status.last_resync,
        };
        Some(Self {
            kind: stores.bus_kind(),
            status,
            last_reload,
        })
    }

    /// `connected` or `reconnecting`.
    pub fn state(&self) -> &'static str {
        if self.status.connected {
            "connected"
        } else {
            "reconnecting"
        }
    }

    /// `{"kind": "postgres", "state": "connected", "connections": 1, "last_resync": 1700000000,
    /// "last_reload": 1700000000}` (times in unix seconds, `null` if never).
    pub fn json(&self) -> Value {
        json!({
            "kind": self.kind,
            "state": self.state(),
            "connections": self.status.connections,
            "last_resync": self.status.last_resync.map(Timestamp::unix),
            "last_reload": self.last_reload.map(Timestamp::unix),
        })
    }

    /// Sets the bus gauges (scraped, so computed when someone looks).
    pub fn record(&self) {
        let kind = self.kind;
        metrics::gauge!(BUS_CONNECTED, "bus" => kind).set(if self.status.connected {
            1.0
        } else {
            0.0
        });
        metrics::counter!(BUS_CONNECTIONS, "bus" => kind).absolute(self.status.connections);
        if let Some(at) = self.last_reload {
            // Seconds since 1970 fit an f64 exactly.
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!(BUS_LAST_RELOAD, "bus" => kind).set(at.unix() as f64);
        }
    }
}
