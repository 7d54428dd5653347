//! The deny-list: revoked tokens (`jti`), sessions (`sid`) and per-user not-before times,
//! checked in memory on every verification ([`DenyList`]), kept in a [`RevocationStore`] so
//! they survive a restart, revoked through [`Revocations`], and spread to the other nodes by a
//! [`RevocationBus`].

mod bus;
mod deny_list;
mod entry;
mod service;
mod store;

pub use bus::{BusEvent, BusMessage, BusStatus, LocalBus, RevocationBus};
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) use bus::{mark_connected, mark_reconnecting};
pub use deny_list::DenyList;
pub use entry::{Revocation, RevocationKind, Revoked};
pub use service::Revocations;
pub use store::{MemoryRevocationStore, RevocationStore};
