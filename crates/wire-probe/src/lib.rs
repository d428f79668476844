//! A counting proxy for the PostgreSQL wire protocol.
//!
//! [`Probe`] listens on a Unix socket of its own, relays every byte to a server's socket, and
//! counts what the clients send: frontend messages by type, and **round trips**. A round trip
//! starts when a client sends a request at a moment when everything it asked before has been
//! answered (every `Sync`/`Query` has had its `ReadyForQuery`): the client had to wait for the
//! server. Requests sent while answers are still outstanding are pipelined into the current
//! round trip. This counts protocol events, not time, so it is exact for a client that writes a
//! pipeline in one go.
//!
//! Used by the round-trip test (which proves a tenant read is one round trip) and by the
//! benchmark (which reports round trips per request). [`Probe::hold_replies`] lets a test
//! stop the server's answers on their way: a query has run (its snapshot is taken) but the
//! client has not heard back, the interleaving a cache race needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{oneshot, watch};

/// What clients sent through the probe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Client connections accepted.
    pub connections: u64,
    /// Times a client sent after all its earlier requests were answered.
    pub round_trips: u64,
    /// Frontend messages by type byte (`'P'` Parse, `'B'` Bind, `'E'` Execute, `'S'` Sync,
    /// `'Q'` simple Query, …). The untyped startup message is not counted.
    pub messages: BTreeMap<char, u64>,
}

impl Tally {
    /// How many messages of `kind` were sent.
    pub fn count(&self, kind: char) -> u64 {
        self.messages.get(&kind).copied().unwrap_or(0)
    }

    /// What happened after `earlier` (a snapshot of the same probe).
    pub fn since(&self, earlier: &Tally) -> Tally {
        let mut messages = self.messages.clone();
        for (kind, n) in &earlier.messages {
            *messages.entry(*kind).or_default() -= n;
        }
        messages.retain(|_, n| *n > 0);
        Tally {
            connections: self.connections - earlier.connections,
            round_trips: self.round_trips - earlier.round_trips,
            messages,
        }
    }
}

/// A running proxy. Dropping it stops accepting and closes its socket directory.
#[derive(Debug)]
pub struct Probe {
    dir: tempfile::TempDir,
    tally: Arc<Mutex<Tally>>,
    stop: Option<oneshot::Sender<()>>,
    gate: Gate,
}

/// Holds the server's answers while `hold` is true, counting what it holds back.
#[derive(Clone, Debug)]
struct Gate {
    hold: Arc<watch::Sender<bool>>,
    held: Arc<AtomicU64>,
}

impl Gate {
    async fn pass(&self) {
        let mut hold = self.hold.subscribe();
        if *hold.borrow_and_update() {
            self.held.fetch_add(1, Ordering::SeqCst);
            let _ = hold.wait_for(|hold| !hold).await;
        }
    }
}

impl Probe {
    /// Starts relaying to the server socket `<upstream_dir>/.s.PGSQL.<port>`. The probe listens
    /// on the same file name in [`Probe::socket_dir`], so a client only changes its host.
    /// Runs on its own thread, independent of the caller's runtime.
    pub fn start(upstream_dir: &Path, port: u16) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("wire-probe-").tempdir()?;
        let file = format!(".s.PGSQL.{port}");
        let upstream = upstream_dir.join(&file);
        let std_listener = std::os::unix::net::UnixListener::bind(dir.path().join(&file))?;
        std_listener.set_nonblocking(true)?;
        let tally = Arc::new(Mutex::new(Tally::default()));
        let (stop, stopped) = oneshot::channel();
        let shared = tally.clone();
        let gate = Gate {
            hold: Arc::new(watch::channel(false).0),
            held: Arc::default(),
        };
        let relay_gate = gate.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = UnixListener::from_std(std_listener) else {
                    return;
                };
                tokio::select! {
                    _ = accept_loop(listener, upstream, shared, relay_gate) => {}
                    _ = stopped => {}
                }
            });
        });
        Ok(Self {
            dir,
            tally,
            stop: Some(stop),
            gate,
        })
    }

    /// While `hold` is true, answers from the server are read but not passed on; releasing
    /// passes them on in order.
    pub fn hold_replies(&self, hold: bool) {
        self.gate.hold.send_replace(hold);
    }

    /// How many reads from the server have been held back so far: one or more means a request
    /// sent while holding has been answered by the server.
    pub fn held_replies(&self) -> u64 {
        self.gate.held.load(Ordering::SeqCst)
    }

    /// The directory holding the probe's socket (a libpq `host`).
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// A snapshot of the counts so far.
    pub fn tally(&self) -> Tally {
        self.tally.lock().expect("tally lock").clone()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn accept_loop(
    listener: UnixListener,
    upstream: PathBuf,
    tally: Arc<Mutex<Tally>>,
    gate: Gate,
) {
    while let Ok((client, _)) = listener.accept().await {
        let Ok(server) = UnixStream::connect(&upstream).await else {
            continue;
        };
        tally.lock().expect("tally lock").connections += 1;
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        // Requests (Sync, Query, the startup message) not yet answered by ReadyForQuery.
        let outstanding = Arc::new(AtomicI64::new(0));
        tokio::spawn(client_to_server(
            client_read,
            server_write,
            tally.clone(),
            outstanding.clone(),
        ));
        tokio::spawn(server_to_client(
            server_read,
            client_write,
            outstanding,
            gate.clone(),
        ));
    }
}

/// Splits complete messages off the front of `buffer`: `(type byte or None for the startup
/// message, whole message bytes)`.
fn take_messages(buffer: &mut Vec<u8>, startup_pending: &mut bool) -> Vec<Option<u8>> {
    let mut kinds = Vec::new();
    let mut at = 0;
    loop {
        let header = if *startup_pending { 0 } else { 1 };
        let Some(len_bytes) = buffer.get(at + header..at + header + 4) else {
            break;
        };
        let len = u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let total = header + len as usize;
        if buffer.len() < at + total {
            break;
        }
        kinds.push((!*startup_pending).then(|| buffer[at]));
        *startup_pending = false;
        at += total;
    }
    buffer.drain(..at);
    kinds
}

/// Copies `from` to `to` until either side closes, handing the kinds of the whole messages in
/// each chunk to `inspect` before the chunk is forwarded (so the other side cannot act on a
/// message before it was looked at).
async fn relay(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut startup_pending: bool,
    gate: Option<Gate>,
    mut inspect: impl FnMut(Vec<Option<u8>>),
) {
    let mut pending = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        inspect(take_messages(&mut pending, &mut startup_pending));
        if let Some(gate) = &gate {
            gate.pass().await;
        }
        if to.write_all(&chunk[..n]).await.is_err() {
            return;
        }
    }
}

async fn client_to_server(
    from: OwnedReadHalf,
    to: OwnedWriteHalf,
    tally: Arc<Mutex<Tally>>,
    outstanding: Arc<AtomicI64>,
) {
    relay(from, to, true, None, |kinds| {
        // Counted before forwarding, so the server cannot answer before we looked.
        let requests = kinds
            .iter()
            .filter(|k| matches!(k, None | Some(b'S' | b'Q' | b'F')))
            .count() as i64;
        {
            let mut tally = tally.lock().expect("tally lock");
            if requests > 0 && outstanding.load(Ordering::SeqCst) <= 0 {
                tally.round_trips += 1;
            }
            for kind in kinds.into_iter().flatten() {
                *tally.messages.entry(kind as char).or_default() += 1;
            }
        }
        outstanding.fetch_add(requests, Ordering::SeqCst);
    })
    .await;
}

async fn server_to_client(
    from: OwnedReadHalf,
    to: OwnedWriteHalf,
    outstanding: Arc<AtomicI64>,
    gate: Gate,
) {
    // The server's first bytes may be an SSL answer ('N'), which has no length: we never
    // forward an SSLRequest answer specially because clients here connect without TLS.
    relay(from, to, false, Some(gate), |kinds| {
        let answered = kinds.into_iter().filter(|k| *k == Some(b'Z')).count() as i64;
        // Settled before the client can see the answer, so its next request is judged right.
        outstanding.fetch_sub(answered, Ordering::SeqCst);
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn the_startup_message_has_no_type_byte_and_later_ones_do() {
        let mut startup = 8u32.to_be_bytes().to_vec();
        startup.extend_from_slice(&196_608u32.to_be_bytes());
        let mut buffer = [startup, message(b'Q', b"select 1\0")].concat();
        let mut startup_pending = true;

        let kinds = take_messages(&mut buffer, &mut startup_pending);

        assert_eq!(kinds, vec![None, Some(b'Q')]);
        assert!(buffer.is_empty());
    }

    #[test]
    fn a_message_split_across_reads_is_counted_once_it_is_complete() {
        let whole = [message(b'B', b"abc"), message(b'S', b"")].concat();
        let mut startup_pending = false;
        let mut buffer = whole[..3].to_vec();

        assert!(take_messages(&mut buffer, &mut startup_pending).is_empty());
        buffer.extend_from_slice(&whole[3..]);
        let kinds = take_messages(&mut buffer, &mut startup_pending);

        assert_eq!(kinds, vec![Some(b'B'), Some(b'S')]);
    }

    #[test]
    fn since_subtracts_an_earlier_snapshot() {
        let earlier = Tally {
            connections: 1,
            round_trips: 2,
            messages: BTreeMap::from([('S', 2)]),
        };
        let later = Tally {
            connections: 1,
            round_trips: 3,
            messages: BTreeMap::from([('S', 4), ('Q', 1)]),
        };

        let delta = later.since(&earlier);

        assert_eq!(delta.round_trips, 1);
        assert_eq!(delta.count('S'), 2);
        assert_eq!(delta.count('Q'), 1);
        assert_eq!(delta.connections, 0);
    }
}
