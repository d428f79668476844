//! Where log lines go: appended to one shared buffer, written out by a thread of their own a
//! batch at a time.
//!
//! Why not a channel with a line per message: every line then cost an allocation, and a line
//! arriving while the writer thread slept woke it (a system call on the request's thread, and a
//! context switch on two busy cores) for a `write` of one line. Here a request appends under a
//! lock that is only ever held for a copy; the writer thread wakes once for the first line of a
//! batch, lets [`BATCH_WINDOW`] of lines gather, and writes them in one call. Lines are never
//! dropped: past [`BLOCK_AT`] bytes waiting (the output cannot keep up), writers wait for room.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the first line of a batch may wait for others before the batch is written.
pub const BATCH_WINDOW: Duration = Duration::from_millis(20);
/// A batch this large is written at once, without waiting out the window.
const WRITE_AT: usize = 256 * 1024;
/// Beyond this many bytes waiting, a line's writer waits for the output to catch up.
const BLOCK_AT: usize = 16 * 1024 * 1024;

/// The [`MakeWriter`] handed to the subscriber.
#[derive(Clone, Debug)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Writes out what is waiting and stops the writer thread when dropped.
#[derive(Debug)]
pub struct WriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled on a batch's first line, when a batch reaches [`WRITE_AT`], and at close.
    work: Condvar,
    /// Signalled when the writer thread has taken a batch (room for blocked writers).
    room: Condvar,
}

#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    closing: bool,
}

impl BatchedWriter {
    /// Starts the writer thread over `output`.
    pub fn start<W: Write + Send + 'static>(output: W) -> (Self, WriterGuard) {
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("wizreg-log".into())
            .spawn({
                let shared = shared.clone();
                move || write_batches(&shared, output)
            })
            .expect("spawn the log writer thread");
        let guard = WriterGuard {
            shared: shared.clone(),
            thread: Some(thread),
        };
        (Self { shared }, guard)
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.shared)
    }
}

/// One event's writer: the formatter hands it the whole line at once.
#[derive(Debug)]
pub struct LineWriter<'a>(&'a Shared);

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let shared = self.0;
        let mut pending = lock(&shared.pending);
        while pending.bytes.len() >= BLOCK_AT && !pending.closing {
            pending = shared
                .room
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let was_empty = pending.bytes.is_empty();
        pending.bytes.extend_from_slice(line);
        let crossed =
            pending.bytes.len() >= WRITE_AT && pending.bytes.len() - line.len() < WRITE_AT;
        drop(pending);
        // Only these two wake the writer thread: any other line joins a batch already due.
        if was_empty || crossed {
            shared.work.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        lock(&self.shared.pending).closing = true;
        self.shared.work.notify_one();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: waits for a first line, gives the batch its window, writes it, until
/// closed with nothing left.
fn write_batches<W: Write>(shared: &Shared, mut output: W) {
    let mut batch = Vec::new();
    loop {
        let mut pending = lock(&shared.pending);
        while pending.bytes.is_empty() && !pending.closing {
            pending = shared
                .work
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if !pending.closing && pending.bytes.len() < WRITE_AT {
            pending = shared
                .work
                .wait_timeout_while(pending, BATCH_WINDOW, |p| {
                    !p.closing && p.bytes.len() < WRITE_AT
                })
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        // Swap buffers: the next batch reuses the last one's allocation.
        std::mem::swap(&mut batch, &mut pending.bytes);
        let closing = pending.closing;
        drop(pending);
        shared.room.notify_all();
        if !batch.is_empty() {
            // A failed write of the log itself has nowhere to be reported: that batch is lost,
            // and the next one is tried as usual.
            let _ = output.write_all(&batch).and_then(|()| output.flush());
            batch.clear();
            // A burst's buffer is not kept for the quiet that follows it.
            if batch.capacity() > 4 * WRITE_AT {
                batch = Vec::new();
            }
        } else if closing {
            return;
        }
    }
}

/// The lock, whether or not a panic poisoned it: the buffer is only ever appended to whole.
fn lock(pending: &Mutex<Pending>) -> MutexGuard<'_, Pending> {
    pending.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut captured = self.0.lock().expect("captured output");
            captured.0.extend_from_slice(bytes);
            captured.1 += 1;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_from_every_thread_arrives_whole_and_in_order_once_the_guard_is_dropped() {
        let captured = Captured::default();
        let (writer, guard) = BatchedWriter::start(captured.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..5_000 {
                        let line = format!("thread {t} line {n}\n");
                        writer
                            .make_writer()
                            .write_all(line.as_bytes())
                            .expect("a line written");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a writing thread");
        }
        drop(guard);
        let (bytes, writes) = captured.0.lock().expect("captured output").clone();
        let text = String::from_utf8(bytes).expect("whole lines");
        for t in 0..4 {
            let numbers: Vec<usize> = text
                .lines()
                .filter_map(|line| line.strip_prefix(&format!("thread {t} line ")))
                .map(|n| n.parse().expect("a whole line"))
                .collect();
            assert_eq!(numbers, (0..5_000).collect::<Vec<_>>(), "thread {t}");
        }
        assert!(
            writes < 20_000,
            "{writes} writes for 20,000 lines: not batched"
        );
    }

    #[test]
    fn a_single_line_is_written_within_its_window_without_more_lines_or_a_close() {
        let captured = Captured::default();
        let (writer, _guard) = BatchedWriter::start(captured.clone());
        writer
            .make_writer()
            .write_all(b"alone\n")
            .expect("a line written");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while captured.0.lock().expect("captured output").0.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the line never left");
            std::thread::sleep(BATCH_WINDOW);
        }
        assert_eq!(captured.0.lock().expect("captured output").0, b"alone\n");
    }
}
