//! Several `cloakroom serve` processes sharing real stores: a Redis of the test's own (so it can
//! be restarted without disturbing anything else), the shared PostgreSQL in a schema of the
//! test's own, and a proxy per node that can cut that node off Redis.
//!
//! Without `redis-server` or PostgreSQL the tests fail under CI and are skipped, loudly,
//! elsewhere.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::Http;
use super::bin::{cloakroom, run_with_stdin, text};

/// The PostgreSQL the tests share (trust auth, database `test`).
pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// Whether `redis-server` and PostgreSQL are here. When not: panics under CI, warns loudly
/// and returns `false` elsewhere.
pub fn services_available() -> bool {
    let redis = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let postgres = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:5432".parse().expect("address"),
        Duration::from_secs(2),
    )
    .is_ok();
    if redis && postgres {
        return true;
    }
    let missing = match (redis, postgres) {
        (false, false) => "redis-server and PostgreSQL at 127.0.0.1:5432",
        (false, true) => "redis-server",
        _ => "PostgreSQL at 127.0.0.1:5432",
    };
    assert!(!in_ci(), "{missing} is required under CI");
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !!! SKIPPED: {missing} is missing: the many-node test did NOT run.\n\
         !!! Install/start it, or set CI=true to make this a failure.\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    );
    false
}

/// A free port on 127.0.0.1 (free when asked; the OS does not hand it out again at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A Redis server of this test's own, appending every write to disk, so that a restart
/// brings back what it had (as a production Redis holding revocations must).
pub struct OwnRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start(dir: &Path) -> Self {
        let mut redis = Self {
            port: free_port(),
            dir: dir.to_owned(),
            child: None,
        };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to the clients) and waits for it to go.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, from its append-only file.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy that can cut everything behind it off its upstream, as a network partition
/// would, and let it reconnect later.
pub struct Proxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    conns: Arc<tokio::sync::Mutex<JoinSet<()>>>,
    accept: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let proxy = Self {
            addr: listener.local_addr().expect("proxy address"),
            upstream,
            conns: Arc::default(),
            accept: std::sync::Mutex::new(None),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (conns, upstream) = (self.conns.clone(), self.upstream);
        let task = tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                conns.lock().await.spawn(async move {
                    let Ok(mut up) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                });
            }
        });
        *self.accept.lock().expect("lock") = Some(task);
    }

    /// Drops every connection and refuses new ones.
    pub async fn cut(&self) {
        let accept = self.accept.lock().expect("lock").take();
        if let Some(accept) = accept {
            accept.abort();
            let _ = accept.await;
        }
        self.conns.lock().await.shutdown().await;
    }

    /// Accepts connections again, on the same port.
    pub async fn heal(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("rebind proxy");
        self.serve(listener);
    }
}

/// A `cloakroom serve` process.
pub struct Node {
    pub url: String,
    pub http: Http,
    child: Child,
}

impl Node {
    /// Starts `cloakroom serve --config config` in `dir` and waits for its banner. Its log
    /// goes to the config's name with `.log`, next to it.
    pub async fn start(dir: &Path, config: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.with_extension("log"))
            .expect("open the node's log");
        let mut child = cloakroom(dir)
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn cloakroom serve");
        let stdout = child.stdout.take().expect("stdout");
        let banner = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            // Keep reading so the process never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            first
        });
        let banner = tokio::time::timeout(Duration::from_secs(60), banner)
            .await
            .expect("serve prints its banner")
            .expect("banner");
        let url = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {banner:?}"))
            .to_owned();
        let http = Http {
            url: url.clone(),
            origin: url.clone(),
            cookie_name: "cloakroom_session".to_owned(),
            client: reqwest::Client::new(),
        };
        Self { url, http, child }
    }

    /// Kills the process at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes a config for nodes sharing `redis_url` and the test's PostgreSQL schema.
pub fn write_config(dir: &Path, name: &str, shared: &str, redis_url: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        "database_url = \"{POSTGRES_URL}\"\n\
         session_store = \"{redis_url}\"\n\
         insecure_fast_hashing_for_tests = true\n\
         public_url = \"http://127.0.0.1:8080\"\n\
         {extra}\n\
         [redis]\nnamespace = \"{shared}\"\n\
         [postgres]\nschema = \"{shared}\"\nmax_connections = 4\n"
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// A schema and namespace name no other test uses.
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// `cloakroom user add NAME` through `config`.
pub fn add_user(dir: &Path, config: &Path, name: &str, password: &str) {
    let mut cmd = cloakroom(dir);
    cmd.arg("--config")
        .arg(config)
        .args(["user", "add", name, "--password-stdin"]);
    let out = run_with_stdin(cmd, password);
    assert!(out.status.success(), "user add: {}", text(&out.stderr));
}

/// Drops the test's schema (best effort: `psql` may be missing).
pub fn drop_schema(schema: &str) {
    let _ = Command::new("psql")
        .args([POSTGRES_URL, "-q", "-c"])
        .arg(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Polls `check` until it gives `want` or `within` has passed; how long it took.
pub async fn wait_for<F, Fut>(within: Duration, want: StatusCode, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StatusCode>,
{
    let start = Instant::now();
    loop {
        let got = check().await;
        if got == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "still {got} after {within:?}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
