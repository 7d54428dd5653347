//! Every session store passes the same conformance suite.

#[cfg(feature = "memory")]
mod memory {
    cloakroom::session_store_conformance!(std::sync::Arc::new(cloakroom::store::MemoryStore::new(
        10_000
    )));
}
