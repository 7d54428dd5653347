//! The background task of the token modes: picks up keys and user revocations that another
//! process wrote, retires keys no token needs any more, and rotates on `jwt.rotate_every`.

use tokio::time::MissedTickBehavior;

use crate::App;

/// Every `jwt.reload_interval`, until aborted; returns at once in `session` mode.
pub(crate) async fn every_interval(app: App) {
    let Some(tokens) = app.tokens() else { return };
    let mut tick = tokio::time::interval(app.settings().jwt.reload_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick completes at once; the keys were loaded at start-up.
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = tokens.maintain().await {
            tracing::warn!(error = %e, cause = ?std::error::Error::source(&e), "could not maintain the keys and revocations");
        }
    }
}
