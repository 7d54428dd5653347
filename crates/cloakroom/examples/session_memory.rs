//! Bytes per active session: in the memory store (resident memory before and after inserting
//! sessions, from `/proc/self/statm`), and with `--redis URL` in Redis (`INFO memory`
//! `used_memory` before and after, in a namespace of its own that is deleted afterwards).
//!
//! ```text
//! cargo run --release -p cloakroom --example session_memory                       # 1 000 000
//! cargo run --release -p cloakroom --features redis --example session_memory -- \
//!     --sessions 100000 --redis redis://127.0.0.1:6379
//! ```
//!
//! Each session is a realistic one: a 36-character user ID (a UUID), a name, one or two roles,
//! a browser's user agent (115 bytes), an IPv4 address, no session data; four sessions per
//! user.

use std::net::{IpAddr, Ipv4Addr};

use cloakroom::clock::{Clock as _, SystemClock};
use cloakroom::session::{
    ClientInfo, SessionData, SessionHandle, SessionId, SessionRecord, SessionStore, SessionUser,
};
use cloakroom::store::MemoryStore;

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                          Chrome/131.0.0.0 Safari/537.36";

fn record(i: usize) -> SessionRecord {
    let user = i / 4;
    let roles: &[&str] = if user % 10 == 0 {
        &["user", "admin"]
    } else {
        &["user"]
    };
    // Now: a store that keys expiry off the clock (Redis) must keep them.
    let now = SystemClock.now();
    SessionRecord {
        handle: SessionHandle::generate().expect("random"),
        user: SessionUser::new(
            format!("{:08x}-0000-4000-8000-{:012x}", user, user),
            format!("user{user}"),
        )
        .with_roles(roles.iter().copied())
        .into(),
        created_at: now,
        last_seen_at: now,
        idle_expires_at: now.saturating_add(std::time::Duration::from_secs(1800)),
        absolute_expires_at: now.saturating_add(std::time::Duration::from_secs(43_200)),
        client: ClientInfo::new(
            Some(USER_AGENT),
            Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i as u32))),
        ),
        version: 0,
        data: SessionData::default(),
    }
}

/// Resident memory of this process, bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm (Linux)");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("statm's second field");
    pages * 4096
}

async fn fill(store: &dyn SessionStore, n: usize) {
    for i in 0..n {
        let key = SessionId::generate().expect("random").key();
        store.create(&key, &record(i)).await.expect("insert");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let n: usize = arg("--sessions")
        .map(|v| v.parse().expect("--sessions N"))
        .unwrap_or(1_000_000);
    // Warm up the allocator and the random source, so that their own memory is not counted.
    let warm = MemoryStore::new(1_000);
    fill(&warm, 1_000).await;
    drop(warm);

    let before = rss();
    let store = MemoryStore::new(n);
    fill(&store, n).await;
    let after = rss();
    assert_eq!(store.len(), n);
    println!(
        "memory store: {n} sessions, resident memory +{:.1} MiB, {:.0} bytes per session",
        (after - before) as f64 / 1_048_576.0,
        (after - before) as f64 / n as f64
    );
    drop(store);

    if let Some(url) = arg("--redis") {
        redis_bytes(&url, n).await;
    }
}

#[cfg(feature = "redis")]
async fn redis_bytes(url: &str, n: usize) {
    use cloakroom::store::RedisStore;
    let client = redis::Client::open(url).expect("a Redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let used = |info: String| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("used_memory in INFO memory")
    };
    let namespace = format!("session-memory-{}", std::process::id());
    let before = used(
        redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .expect("INFO"),
    );
    let store = RedisStore::connect(url, &namespace)
        .await
        .expect("the Redis store");
    fill(&store, n).await;
    let after = used(
        redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .expect("INFO"),
    );
    println!(
        "redis: {n} sessions, used_memory +{:.1} MiB, {:.0} bytes per session",
        after.saturating_sub(before) as f64 / 1_048_576.0,
        after.saturating_sub(before) as f64 / n as f64
    );
    // Clean up: every key of the namespace.
    let mut cursor = 0u64;
    let mut deleted = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{namespace}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("SCAN");
        if !keys.is_empty() {
            deleted += keys.len() as u64;
            let _: u64 = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .expect("UNLINK");
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    println!("redis: deleted {deleted} keys of namespace {namespace}");
}

#[cfg(not(feature = "redis"))]
async fn redis_bytes(_url: &str, _n: usize) {
    eprintln!(
        "--redis needs the `redis` feature: cargo run --features redis --example session_memory"
    );
    std::process::exit(2);
}
