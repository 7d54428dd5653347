//! The access log: one line per request, formatted and written by a thread of its own, so a
//! request pays for copying a few fields into a queue and nothing else (no formatting, no
//! system call, no waiting for the disk).
//!
//! The queue is bounded ([`CAPACITY`] lines). When the disk is slower than the traffic and the
//! queue is full, a line is dropped rather than the request made to wait: drops are counted in
//! `cloakroom_access_log_dropped_total` and reported in the log itself ("access log lines
//! dropped"). Lines reach standard error in batches: when a quarter of the queue is waiting, or
//! at the latest [`TICK`] after the request; [`flush`] (called when a command ends, so after a
//! graceful shutdown) writes out everything queued before it.
//!
//! Fields: the time, method, matched route (never the raw path), status, latency, the client's
//! address (as `TrustedProxies` resolves it), the request ID and the user agent (quoted,
//! escaped, cut at [`MAX_USER_AGENT`] bytes). Nothing else from the request is ever copied:
//! no header, cookie, query string or body.

use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, mpsc};
use std::thread::{self, Thread};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::MatchedPath;

use crate::settings::LogFormat;

/// How many lines may wait for the writer. At 100 000 requests a second this is 80 ms of
/// traffic; the writer is woken when a quarter of it is waiting.
pub(crate) const CAPACITY: usize = 8192;
/// The longest a line waits when traffic is light.
const TICK: Duration = Duration::from_millis(500);
/// Longer user agents are cut here (and marked `...`): a client chooses its own.
pub(crate) const MAX_USER_AGENT: usize = 192;
/// The longest request ID taken from a trusted proxy.
pub(crate) const MAX_REQUEST_ID: usize = 64;
/// The batch size at which the writer writes without waiting for the queue to empty.
const WRITE_CHUNK: usize = 64 * 1024;
/// The metric counting dropped lines.
pub const DROPPED: &str = "cloakroom_access_log_dropped_total";

/// A short byte string kept inline, so a queued line holds no allocation and no reference
/// into hyper's read buffer (which would keep hyper from reusing it).
#[derive(Clone, Copy)]
pub(crate) struct Inline<const N: usize> {
    len: u16,
    truncated: bool,
    bytes: [u8; N],
}

impl<const N: usize> Inline<N> {
    /// The first `N` bytes of `from`.
    pub(crate) fn new(from: &[u8]) -> Self {
        let len = from.len().min(N);
        let mut bytes = [0; N];
        bytes[..len].copy_from_slice(&from[..len]);
        Self {
            len: len as u16,
            truncated: from.len() > N,
            bytes,
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl<const N: usize> std::fmt::Debug for Inline<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// One request, as queued for its line.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) time: SystemTime,
    pub(crate) method: &'static str,
    /// The matched route (shared, not copied); `None` for a path no route matched.
    pub(crate) route: Option<MatchedPath>,
    pub(crate) status: u16,
    pub(crate) latency_us: u64,
    pub(crate) client: Option<IpAddr>,
    pub(crate) request_id: Inline<MAX_REQUEST_ID>,
    pub(crate) user_agent: Option<Inline<MAX_USER_AGENT>>,
}

/// The queue between requests and the writer thread.
#[derive(Debug)]
struct Shared {
    queue: Mutex<Vec<Entry>>,
    dropped: AtomicU64,
    writer: Thread,
    flushes: Mutex<Option<mpsc::Sender<mpsc::Sender<()>>>>,
}

/// A running access log: the handle requests push into.
#[derive(Debug, Clone)]
pub(crate) struct AccessLog {
    shared: Arc<Shared>,
}

static GLOBAL: OnceLock<AccessLog> = OnceLock::new();

/// Starts the process's access log on standard error; later calls do nothing.
pub(crate) fn install(format: LogFormat) {
    GLOBAL.get_or_init(|| AccessLog::start(format, Box::new(io::stderr())));
}

/// The process's access log, when [`install`] ran (`cloakroom serve` and the other commands;
/// an embedder with its own `tracing` subscriber gets `tracing` events instead).
pub(crate) fn global() -> Option<&'static AccessLog> {
    GLOBAL.get()
}

/// Writes out every line queued so far and waits (at most 5 s) until it is written.
pub fn flush() {
    if let Some(log) = global() {
        log.flush();
    }
}

impl AccessLog {
    /// Starts the writer thread, writing to `out`.
    pub(crate) fn start(format: LogFormat, out: Box<dyn Write + Send>) -> Self {
        let (flush_tx, flush_rx) = mpsc::channel::<mpsc::Sender<()>>();
        let (shared_tx, shared_rx) = mpsc::channel::<Arc<Shared>>();
        let writer = thread::Builder::new()
            .name("access-log".to_owned())
            .spawn(move || {
                let Ok(shared) = shared_rx.recv() else { return };
                Writer::new(format, out).run(&shared, &flush_rx);
            })
            .expect("spawning the access log's thread");
        let shared = Arc::new(Shared {
            queue: Mutex::new(Vec::with_capacity(CAPACITY / 4)),
            dropped: AtomicU64::new(0),
            writer: writer.thread().clone(),
            flushes: Mutex::new(Some(flush_tx)),
        });
        // The thread holds a reference for as long as it runs: the process's log never ends.
        let _ = shared_tx.send(Arc::clone(&shared));
        Self { shared }
    }

    /// Queues `entry`; never waits for the writer. A full queue drops it (counted).
    pub(crate) fn push(&self, entry: Entry) {
        let waiting = {
            let mut queue = self
                .shared
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if queue.len() >= CAPACITY {
                drop(queue);
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            queue.push(entry);
            queue.len()
        };
        // Woken once per quarter of the queue, not per line: an unpark is a system call.
        if waiting == CAPACITY / 4 {
            self.shared.writer.unpark();
        }
    }

    /// How many lines were dropped because the queue was full.
    #[cfg(test)]
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Writes out everything queued before this call; returns when it is written, or after
    /// 5 s if the disk does not take it.
    pub(crate) fn flush(&self) {
        let (done_tx, done_rx) = mpsc::channel();
        let sent = self
            .shared
            .flushes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|flushes| flushes.send(done_tx).is_ok());
        if sent {
            self.shared.writer.unpark();
            let _ = done_rx.recv_timeout(Duration::from_secs(5));
        }
    }
}

/// The writer thread's state.
struct Writer {
    format: LogFormat,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
    batch: Vec<Entry>,
    /// The formatted date and time of `second`, reused for every line in that second.
    second: u64,
    stamp: String,
    reported_drops: u64,
}

impl Writer {
    fn new(format: LogFormat, out: Box<dyn Write + Send>) -> Self {
        Self {
            format,
            out,
            buf: Vec::with_capacity(WRITE_CHUNK * 2),
            batch: Vec::with_capacity(CAPACITY / 4),
            second: u64::MAX,
            stamp: String::new(),
            reported_drops: 0,
        }
    }

    fn run(mut self, shared: &Shared, flushes: &mpsc::Receiver<mpsc::Sender<()>>) {
        loop {
            // A flush asked before this drain is answered after it: what was queued before
            // the request is written before the answer.
            let asked: Vec<_> = flushes.try_iter().collect();
            self.drain(shared);
            for done in asked {
                let _ = done.send(());
            }
            thread::park_timeout(TICK);
        }
    }

    /// Takes everything queued, formats and writes it.
    fn drain(&mut self, shared: &Shared) {
        loop {
            {
                let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
                std::mem::swap(&mut *queue, &mut self.batch);
            }
            if self.batch.is_empty() {
                break;
            }
            let batch = std::mem::take(&mut self.batch);
            for entry in &batch {
                self.line(entry);
                if self.buf.len() >= WRITE_CHUNK {
                    self.write();
                }
            }
            self.batch = batch;
            self.batch.clear();
        }
        let dropped = shared.dropped.load(Ordering::Relaxed);
        if dropped > self.reported_drops {
            let new = dropped - self.reported_drops;
            self.reported_drops = dropped;
            metrics::counter!(DROPPED).increment(new);
            self.drop_report(new, dropped);
        }
        self.write();
    }

    fn write(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        // A failed write (disk full, closed pipe) loses these lines; there is nowhere left to
        // say so, and the requests must not wait for it.
        let _ = self.out.write_all(&self.buf);
        let _ = self.out.flush();
        self.buf.clear();
    }

    /// `2026-12-06T00:28:50.123456Z` into `buf`.
    fn timestamp(&mut self, time: SystemTime) {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let second = since.as_secs();
        if second != self.second {
            self.second = second;
            self.stamp.clear();
            let at = i64::try_from(second)
                .ok()
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            use std::fmt::Write as _;
            let _ = write!(
                self.stamp,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            );
        }
        self.buf.extend_from_slice(self.stamp.as_bytes());
        self.buf.push(b'.');
        let micros = since.subsec_micros();
        let mut digits = [b'0'; 6];
        let mut n = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.buf.extend_from_slice(&digits);
        self.buf.push(b'Z');
    }

    fn line(&mut self, e: &Entry) {
        let route = e.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        match self.format {
            LogFormat::Text => {
                self.timestamp(e.time);
                self.buf
                    .extend_from_slice(b"  INFO cloakroom_server::access: request method=");
                self.buf.extend_from_slice(e.method.as_bytes());
                self.buf.extend_from_slice(b" route=");
                self.buf.extend_from_slice(route.as_bytes());
                self.buf.extend_from_slice(b" status=");
                decimal(&mut self.buf, u64::from(e.status));
                self.buf.extend_from_slice(b" latency_us=");
                decimal(&mut self.buf, e.latency_us);
                self.buf.extend_from_slice(b" client=");
                self.client(e.client);
                self.buf.extend_from_slice(b" request_id=");
                self.buf.extend_from_slice(e.request_id.as_bytes());
                self.buf.extend_from_slice(b" user_agent=");
                match &e.user_agent {
                    Some(ua) => quoted(&mut self.buf, ua.as_bytes(), ua.truncated, false),
                    None => self.buf.push(b'-'),
                }
                self.buf.push(b'\n');
            }
            LogFormat::Json => {
                self.buf.extend_from_slice(b"{\"timestamp\":\"");
                self.timestamp(e.time);
                self.buf.extend_from_slice(
                    b"\",\"level\":\"INFO\",\"message\":\"request\",\"method\":\"",
                );
                self.buf.extend_from_slice(e.method.as_bytes());
                self.buf.extend_from_slice(b"\",\"route\":");
                quoted(&mut self.buf, route.as_bytes(), false, true);
                self.buf.extend_from_slice(b",\"status\":");
                decimal(&mut self.buf, u64::from(e.status));
                self.buf.extend_from_slice(b",\"latency_us\":");
                decimal(&mut self.buf, e.latency_us);
                self.buf.extend_from_slice(b",\"client\":");
                match e.client {
                    Some(_) => {
                        self.buf.push(b'"');
                        self.client(e.client);
                        self.buf.push(b'"');
                    }
                    None => self.buf.extend_from_slice(b"null"),
                }
                self.buf.extend_from_slice(b",\"request_id\":");
                quoted(&mut self.buf, e.request_id.as_bytes(), false, true);
                self.buf.extend_from_slice(b",\"user_agent\":");
                match &e.user_agent {
                    Some(ua) => quoted(&mut self.buf, ua.as_bytes(), ua.truncated, true),
                    None => self.buf.extend_from_slice(b"null"),
                }
                self.buf
                    .extend_from_slice(b",\"target\":\"cloakroom_server::access\"}\n");
            }
        }
    }

    fn client(&mut self, client: Option<IpAddr>) {
        match client {
            // By hand: `Display` for an address goes through `core::fmt` and cost ~1 000
            // instructions a line, over half of the writer's work (callgrind).
            Some(IpAddr::V4(ip)) => {
                for (i, octet) in ip.octets().into_iter().enumerate() {
                    if i > 0 {
                        self.buf.push(b'.');
                    }
                    decimal(&mut self.buf, u64::from(octet));
                }
            }
            Some(ip) => {
                let _ = write!(self.buf, "{ip}");
            }
            None => self.buf.push(b'-'),
        }
    }

    fn drop_report(&mut self, new: u64, total: u64) {
        let now = SystemTime::now();
        match self.format {
            LogFormat::Text => {
                self.timestamp(now);
                let _ = writeln!(
                    self.buf,
                    "  WARN cloakroom_server::access: access log lines dropped: the log \
                     could not be written as fast as requests came dropped={new} \
                     dropped_total={total}"
                );
            }
            LogFormat::Json => {
                self.buf.extend_from_slice(b"{\"timestamp\":\"");
                self.timestamp(now);
                let _ = writeln!(
                    self.buf,
                    "\",\"level\":\"WARN\",\"message\":\"access log lines dropped: the log \
                     could not be written as fast as requests came\",\"dropped\":{new},\
                     \"dropped_total\":{total},\"target\":\"cloakroom_server::access\"}}"
                );
            }
        }
    }
}

fn decimal(buf: &mut Vec<u8>, mut n: u64) {
    // Most numbers here (octets, statuses, latencies) have at most three digits.
    if n < 1000 {
        let d = [
            b'0' + (n / 100) as u8,
            b'0' + (n / 10 % 10) as u8,
            b'0' + (n % 10) as u8,
        ];
        let from = if n >= 100 {
            0
        } else if n >= 10 {
            1
        } else {
            2
        };
        buf.extend_from_slice(&d[from..]);
        return;
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[at..]);
}

/// `bytes` in double quotes: printable ASCII as it is, `"` and `\` escaped, anything else as
/// `\xNN` (text) or `\u00NN` (JSON), so a client's header can neither end the line nor fake
/// a field. A cut value ends in `...`.
fn quoted(buf: &mut Vec<u8>, mut bytes: &[u8], truncated: bool, json: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.push(b'"');
    // Runs of plain bytes are copied whole; only what needs escaping goes byte by byte.
    while !bytes.is_empty() {
        let plain = bytes
            .iter()
            .position(|&b| !(0x20..=0x7e).contains(&b) || b == b'"' || b == b'\\')
            .unwrap_or(bytes.len());
        buf.extend_from_slice(&bytes[..plain]);
        let Some((&b, rest)) = bytes[plain..].split_first() else {
            break;
        };
        bytes = rest;
        match b {
            b'"' | b'\\' => buf.extend_from_slice(&[b'\\', b]),
            _ if json => buf.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
            _ => buf.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
        }
    }
    if truncated {
        buf.extend_from_slice(b"...");
    }
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::sync::Condvar;

    use super::*;

    /// A sink that can be held shut, as a disk slower than the traffic.
    #[derive(Clone, Default)]
    struct Sink {
        text: Arc<Mutex<Vec<u8>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Sink {
        fn hold(&self, held: bool) {
            *self.gate.0.lock().unwrap() = held;
            self.gate.1.notify_all();
        }
        fn text(&self) -> String {
            String::from_utf8(self.text.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let mut held = self.gate.0.lock().unwrap();
            while *held {
                held = self.gate.1.wait(held).unwrap();
            }
            self.text.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn entry(n: u64, user_agent: &[u8]) -> Entry {
        Entry {
            time: UNIX_EPOCH + Duration::from_micros(1_780_000_000_123_456),
            method: "GET",
            route: None,
            status: 200,
            latency_us: n,
            client: Some("192.0.2.7".parse().unwrap()),
            request_id: Inline::new(b"abc-123"),
            user_agent: Some(Inline::new(user_agent)),
        }
    }

    #[test]
    fn a_line_has_every_field_and_a_hostile_user_agent_cannot_break_it() {
        let sink = Sink::default();
        let log = AccessLog::start(LogFormat::Text, Box::new(sink.clone()));
        log.push(entry(42, b"curl/8 \"x\" status=500\x01\xff"));
        log.flush();
        assert_eq!(
            sink.text(),
            "2026-05-28T20:26:40.123456Z  INFO cloakroom_server::access: request method=GET \
             route=unmatched status=200 latency_us=42 client=192.0.2.7 request_id=abc-123 \
             user_agent=\"curl/8 \\\"x\\\" status=500\\x01\\xff\"\n"
        );
        let long = vec![b'a'; MAX_USER_AGENT + 10];
        log.push(entry(1, &long));
        log.flush();
        assert!(
            sink.text()
                .ends_with(&format!("\"{}...\"\n", "a".repeat(MAX_USER_AGENT)))
        );
    }

    #[test]
    fn numbers_are_written_as_std_writes_them() {
        for n in [0, 7, 10, 99, 100, 999, 1000, 65_535, u64::MAX] {
            let mut buf = Vec::new();
            decimal(&mut buf, n);
            assert_eq!(String::from_utf8(buf).unwrap(), n.to_string());
        }
    }

    #[test]
    fn addresses_are_written_as_std_writes_them() {
        let mut w = Writer::new(LogFormat::Text, Box::new(io::sink()));
        for ip in [
            "0.0.0.0",
            "192.0.2.255",
            "10.20.3.4",
            "2001:db8::1",
            "::ffff:1.2.3.4",
        ] {
            w.buf.clear();
            w.client(Some(ip.parse().unwrap()));
            assert_eq!(String::from_utf8(w.buf.clone()).unwrap(), ip);
        }
    }

    #[test]
    fn a_json_line_parses_and_keeps_the_fields() {
        let sink = Sink::default();
        let log = AccessLog::start(LogFormat::Json, Box::new(sink.clone()));
        log.push(entry(7, b"Mozilla \"q\"\x7f"));
        log.flush();
        let line: serde_json::Value = serde_json::from_str(sink.text().trim()).unwrap();
        assert_eq!(line["route"], "unmatched");
        assert_eq!(line["status"], 200);
        assert_eq!(line["latency_us"], 7);
        assert_eq!(line["client"], "192.0.2.7");
        assert_eq!(line["request_id"], "abc-123");
        assert_eq!(line["user_agent"], "Mozilla \"q\"\u{7f}");
        assert_eq!(line["timestamp"], "2026-05-28T20:26:40.123456Z");
    }

    #[test]
    fn a_stalled_disk_drops_and_counts_lines_instead_of_blocking_requests() {
        let sink = Sink::default();
        sink.hold(true);
        let log = AccessLog::start(LogFormat::Text, Box::new(sink.clone()));
        let total = (CAPACITY * 3) as u64;
        // Every push returns while the writer is stuck in a write: none waits for the disk.
        for n in 0..total {
            log.push(entry(n, b"ua"));
        }
        let dropped = log.dropped();
        assert!(dropped > 0, "a full queue drops");
        sink.hold(false);
        log.flush();
        let text = sink.text();
        let written = text.matches(" INFO ").count() as u64;
        assert_eq!(written + dropped, total, "each line written or counted");
        assert!(
            text.contains("access log lines dropped") && text.contains(" WARN "),
            "the drops are reported in the log"
        );
    }

    #[test]
    fn flush_writes_what_was_queued_before_it() {
        let sink = Sink::default();
        let log = AccessLog::start(LogFormat::Text, Box::new(sink.clone()));
        for n in 0..100 {
            log.push(entry(n, b"ua"));
        }
        // Without the flush nothing is written for up to TICK; with it, everything at once.
        log.flush();
        assert_eq!(sink.text().lines().count(), 100);
    }
}
