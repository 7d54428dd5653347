//! A TCP proxy in front of the shared Redis, so one test can cut its own store off (or have
//! Redis kill exactly that store's connection) without touching the server or other tests.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The Redis behind the proxy: the one of `support::REDIS_URL`.
const UPSTREAM: &str = "127.0.0.1:6379";

#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    accept: Mutex<Option<JoinHandle<()>>>,
    conns: Arc<tokio::sync::Mutex<JoinSet<()>>>,
    /// The local address of every connection the proxy opened to Redis: what Redis lists as
    /// `addr` for the clients behind the proxy.
    upstream_addrs: Arc<Mutex<Vec<SocketAddr>>>,
}

impl Proxy {
    /// A proxy listening on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let listener = bind("127.0.0.1:0".parse().expect("address"));
        let proxy = Self {
            addr: listener.local_addr().expect("local address"),
            accept: Mutex::new(None),
            conns: Arc::default(),
            upstream_addrs: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    /// The URL to give a store.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Where Redis sees the proxied clients come from.
    pub fn upstream_addrs(&self) -> Vec<SocketAddr> {
        self.upstream_addrs.lock().expect("lock").clone()
    }

    /// Closes every proxied connection and stops listening: Redis is unreachable through the
    /// proxy (connections are refused) until [`resume`](Self::resume).
    pub async fn stop(&self) {
        let accept = self.accept.lock().expect("lock").take();
        if let Some(accept) = accept {
            accept.abort();
            let _ = accept.await;
        }
        // Waits until every connection task has ended and dropped its sockets.
        self.conns.lock().await.shutdown().await;
    }

    /// Listens again on the same port.
    pub fn resume(&self) {
        self.serve(bind(self.addr));
    }

    fn serve(&self, listener: TcpListener) {
        let conns = Arc::clone(&self.conns);
        let seen = Arc::clone(&self.upstream_addrs);
        let task = tokio::spawn(async move {
            while let Ok((down, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                conns.lock().await.spawn(async move {
                    let Ok(up) = TcpStream::connect(UPSTREAM).await else {
                        return;
                    };
                    if let Ok(addr) = up.local_addr() {
                        seen.lock().expect("lock").push(addr);
                    }
                    // Either side closing closes both, as a dead server would.
                    tokio::select! {
                        _ = pump(&down, &up) => {}
                        _ = pump(&up, &down) => {}
                    }
                });
            }
        });
        *self.accept.lock().expect("lock") = Some(task);
    }
}

/// Copies what `from` sends to `to` until `from` closes or either fails. (Written by hand
/// because tokio's `io-util` is not among this crate's features.)
async fn pump(from: &TcpStream, to: &TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        from.readable().await?;
        let n = match from.try_read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        let mut sent = 0;
        while sent < n {
            to.writable().await?;
            match to.try_write(&buf[sent..n]) {
                Ok(m) => sent += m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A listener that can take over a port that was just closed.
fn bind(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.bind(addr).expect("bind");
    socket.listen(64).expect("listen")
}
