//! Serving connections with hyper's HTTP/1 directly (`axum::serve` hides the knobs): a
//! deadline for a request's head (slow clients are cut off), a bound on its size (431), a cap
//! on connections at once (503 past it), and a graceful shutdown that lets requests in flight
//! finish.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use cloakroom_axum::TrustedProxies;

use crate::settings::LimitSettings;

mod client_slots;
use client_slots::ClientSlots;

/// How many refused connections are answered at once; past that they are just closed, so a
/// flood of connections cannot make the refusals themselves a burden.
const MAX_REFUSALS: usize = 64;
/// How long a refused connection's request is waited for before the answer is sent anyway.
const REQUEST_WAIT: Duration = Duration::from_millis(500);
/// How long answering a refused connection may take.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long shutting down waits for requests in flight (the request timeout is 30 s).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(35);

/// Serves `router` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, lets the requests in flight finish (closing idle connections at once), and
/// returns.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &LimitSettings,
    proxies: TrustedProxies,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .keep_alive(true);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let per_client = ClientSlots::new(limits.max_connections_per_client, proxies);
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            refuse(stream, &refusals);
            continue;
        };
        let Some(slot) = per_client.take(peer.ip()) else {
            drop(permit);
            refuse(stream, &refusals);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req)
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // Timeouts, resets, malformed requests: the client's doing, worth a debug line.
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop((permit, slot));
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the shutdown grace period; stopping anyway");
    }
}

/// A failed `accept`: a connection that was reset before it was taken needs nothing; running
/// out of file descriptors needs a pause, or the loop would spin.
async fn accept_failed(e: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Answers a connection over the cap with 503 and closes it; reads what the client sent, so
/// that closing does not reset the connection before the client reads the answer. Bounded in
/// number (`MAX_REFUSALS`) and time (`REFUSAL_TIMEOUT`).
fn refuse(mut stream: TcpStream, refusals: &Arc<Semaphore>) {
    metrics::counter!(crate::prometheus::CONNECTIONS_REFUSED).increment(1);
    let Ok(slot) = Arc::clone(refusals).try_acquire_owned() else {
        return; // dropped: closed without an answer
    };
    tokio::spawn(async move {
        let _slot = slot;
        let answer = async {
            let mut sink = [0u8; 1024];
            // Clients take an answer that comes before their request for a broken connection:
            // wait for the request to start (briefly), answer, then read the rest.
            let _ = tokio::time::timeout(REQUEST_WAIT, stream.read(&mut sink)).await;
            stream.write_all(BUSY.as_bytes()).await?;
            stream.shutdown().await?;
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, io::Error>(())
        };
        let _ = tokio::time::timeout(REFUSAL_TIMEOUT, answer).await;
    });
}

/// The whole answer to a connection over the cap.
const BUSY: &str = concat!(
    "HTTP/1.1 503 Service Unavailable\r\n",
    "content-type: application/json\r\n",
    "cache-control: no-store\r\n",
    "retry-after: 1\r\n",
    "connection: close\r\n",
    "content-length: 82\r\n",
    "\r\n",
    r#"{"error":"too_many_connections","message":"the server is busy; try again shortly"}"#,
);

#[cfg(test)]
mod tests {
    use super::BUSY;

    #[test]
    fn the_busy_answer_declares_its_length() {
        let (head, body) = BUSY.split_once("\r\n\r\n").unwrap();
        assert!(head.ends_with(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], "too_many_connections");
    }
}
