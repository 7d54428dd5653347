//! The background task that deletes ended sessions, whichever store keeps them, and deny-list
//! entries whose tokens have all expired.

use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::App;

/// Deletes ended sessions every `session.purge_interval`, by the app's clock, until aborted.
/// Also runs the metrics recorder's upkeep, which keeps histograms from growing.
pub(crate) async fn every_interval(app: App) {
    let every = app
        .settings()
        .session
        .purge_interval
        .max(Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match app.sessions().purge_expired().await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "purged ended sessions"),
            Err(e) => tracing::warn!(error = %e, "could not purge ended sessions"),
        }
        if let Some(tokens) = app.tokens() {
            match tokens.revocations().purge_expired().await {
                Ok(0) => {}
                Ok(purged) => tracing::debug!(purged, "purged expired revocations"),
                Err(e) => tracing::warn!(error = %e, "could not purge expired revocations"),
            }
        }
        app.metrics().run_upkeep();
    }
}
