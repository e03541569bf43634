//! Delivery of a hub's frames into its viewers' sockets: direct writes, a bounded queue per
//! viewer as the fallback, and the fan-out spread over the cores.
//!
//! A [`Viewer`] is one WebSocket's write side. Every frame for it, the broadcasts as well as the
//! connection's own replies, goes through [`Viewer::send`], under the viewer's lock:
//!
//! - **Fast path.** While its queue is empty the frame is written straight into the socket
//!   (`try_write`, never blocking); the kernel takes the whole frame in the common case. No task
//!   is woken, no timer armed.
//! - **Fallback.** Whatever the socket does not take (all of a frame, or its tail) waits in the
//!   viewer's queue and the connection's task is woken to write it when the socket is writable.
//!   **Once the queue is non-empty everything goes through it until it has drained**, so a
//!   viewer never sees frames out of order. A queue longer than `send_queue` frames makes the
//!   viewer [`Status::Slow`] (the connection closes with 4008); the connection also arms one
//!   timer, only while its queue is non-empty, for a socket that takes nothing for 5 s.
//!
//! [`Fanout`] spreads a hub's viewers over shards (one per runtime worker). A broadcast is
//! handed to every shard's task through a channel (one wake-up per shard, not per viewer) and
//! each shard writes it to its viewers in a loop: on Linux through its worker thread's io_uring,
//! [`uring::BATCH`] non-blocking sends per system call, each viewer decided and completed under
//! its lock exactly as on the fast path above (`deliver_batched`); elsewhere, or where the
//! kernel refuses a ring, with `try_write` per viewer. A joiner is greeted (`hello`, the list, the
//! history) under its shard's lock, before any broadcast reaches it; broadcasts older than what
//! it was greeted with are skipped per viewer (revision and viewer count), as before.

#[cfg(target_os = "linux")]
use super::uring;
use super::Frame;
use crate::metrics::{Metrics, FANOUT_SAMPLE};
use crate::sync_util::lock;
use crate::wire::Prepared;
use bytes::Bytes;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, Notify};
use watchparty_core::protocol::close;

/// Most queued frames written with one `writev`.
const MAX_IOVECS: usize = 32;
/// Most shards of one hub.
const MAX_SHARDS: usize = 16;
/// The close reason sent to a slow viewer.
pub const SLOW_REASON: &str = "too slow; reconnect to resync";

/// The state of a viewer's write side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Frames are written (or queued).
    Open,
    /// Its queue overflowed: it is too slow (close 4008).
    Slow,
    /// Writing failed: the peer is gone.
    Broken,
    /// The connection is closing: no more broadcasts.
    Closing,
}

#[derive(Debug)]
struct Out {
    /// Frames (or the unwritten tail of the first) waiting for the socket.
    queue: VecDeque<Bytes>,
    /// The newest revision this viewer has been sent (older frames are skipped).
    last_revision: u64,
    /// The viewer count this viewer was last told (unchanged counts are skipped).
    last_viewers: u32,
    status: Status,
}

/// One viewer's write side (see the module docs).
#[derive(Debug)]
pub struct Viewer {
    stream: TcpStream,
    out: Mutex<Out>,
    /// Wakes the connection's task: its queue became non-empty or its status changed.
    wake: Notify,
    conn_id: u64,
    /// Frames the queue may hold.
    limit: usize,
    metrics: Arc<Metrics>,
}

impl Viewer {
    /// The write side of `stream` (its read side is the connection task's, through
    /// [`Viewer::stream`]).
    pub fn new(stream: TcpStream, conn_id: u64, limit: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            stream,
            out: Mutex::new(Out {
                queue: VecDeque::new(),
                last_revision: 0,
                last_viewers: 0,
                status: Status::Open,
            }),
            wake: Notify::new(),
            conn_id,
            limit: limit.max(1),
            metrics,
        }
    }

    /// The socket (the connection task reads from it).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Resolves when the queue became non-empty or the status changed (check both).
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// The write side's status.
    pub fn status(&self) -> Status {
        lock(&self.out).status
    }

    /// True while frames wait in the queue.
    pub fn pending(&self) -> bool {
        !lock(&self.out).queue.is_empty()
    }

    /// Sends one of the connection's own frames (a state in it raises the revision floor,
    /// a viewer count the count floor).
    pub fn send(&self, frame: &Prepared, revision: Option<u64>, viewers: Option<u32>) {
        let mut out = lock(&self.out);
        if let Some(r) = revision {
            out.last_revision = out.last_revision.max(r);
        }
        if let Some(n) = viewers {
            out.last_viewers = n;
        }
        self.write(&mut out, frame.wire(), false);
    }

    /// Sends what `choose` picks given the newest revision this viewer has been sent, decided
    /// under the same lock as the broadcasts, so none can slip in between (a state it picks
    /// raises the floor like [`Viewer::send`]).
    pub fn send_with(&self, choose: impl FnOnce(u64) -> Option<(Prepared, Option<u64>)>) {
        let mut out = lock(&self.out);
        if let Some((frame, revision)) = choose(out.last_revision) {
            if let Some(r) = revision {
                out.last_revision = out.last_revision.max(r);
            }
            self.write(&mut out, frame.wire(), false);
        }
    }

    /// Sends a close frame (behind whatever is queued, even over the limit) and stops the
    /// broadcasts.
    pub fn send_close(&self, frame: &Prepared) {
        let mut out = lock(&self.out);
        if matches!(out.status, Status::Broken | Status::Slow) {
            // Broken: nobody to tell. Slow: its Close is queued already.
            return;
        }
        out.status = Status::Closing;
        self.write(&mut out, frame.wire(), true);
    }

    /// Delivers a broadcast unless this viewer already has something as new.
    pub fn deliver(&self, frame: &Frame) {
        let mut out = lock(&self.out);
        if !self.admit(&mut out, frame) {
            return;
        }
        self.write(&mut out, frame.frame.wire(), false);
        drop(out);
        self.sample(frame);
    }

    /// Whether `frame` is for this viewer (open, and newer than what it has); if so, records
    /// that it has it.
    fn admit(&self, out: &mut Out, frame: &Frame) -> bool {
        if out.status != Status::Open {
            return false;
        }
        if frame.revision != 0 {
            if frame.revision <= out.last_revision {
                return false;
            }
            out.last_revision = frame.revision;
        }
        if let Some(n) = frame.viewers {
            if n == out.last_viewers {
                return false;
            }
            out.last_viewers = n;
        }
        true
    }

    /// The fan-out time of a delivered broadcast, for one viewer in [`FANOUT_SAMPLE`].
    fn sample(&self, frame: &Frame) {
        if self.conn_id.is_multiple_of(FANOUT_SAMPLE) {
            self.metrics
                .fanout
                .observe(frame.at.elapsed().as_secs_f64());
        }
    }

    /// Writes `bytes` at once if nothing is queued and the socket takes it; queues the rest.
    fn write(&self, out: &mut Out, bytes: &Bytes, over_limit: bool) {
        if matches!(out.status, Status::Broken | Status::Slow) {
            return;
        }
        if out.queue.is_empty() {
            let result = self.stream.try_write(bytes);
            self.wrote(out, bytes, result);
            return;
        }
        if out.queue.len() >= self.limit && !over_limit {
            tracing::info!(
                conn_id = self.conn_id,
                "send queue full; disconnecting slow viewer"
            );
            self.metrics.overflows.inc();
            // Keep only the frame being written (it may be half out) and queue the Close
            // behind it; the connection writes that out while it closes.
            out.queue.truncate(1);
            out.queue
                .push_back(Prepared::close(close::TOO_SLOW, SLOW_REASON).wire().clone());
            out.status = Status::Slow;
            self.wake.notify_one();
            return;
        }
        out.queue.push_back(bytes.clone());
    }

    /// Takes the outcome of writing `bytes` straight into the socket (nothing was queued):
    /// what the socket did not take is queued and the connection woken to write it.
    fn wrote(&self, out: &mut Out, bytes: &Bytes, result: io::Result<usize>) {
        match result {
            Ok(n) if n >= bytes.len() => return,
            Ok(n) => out.queue.push_back(bytes.slice(n..)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => out.queue.push_back(bytes.clone()),
            Err(_) => {
                self.fail(out, Status::Broken);
                return;
            }
        }
        self.wake.notify_one();
    }

    fn fail(&self, out: &mut Out, status: Status) {
        out.status = status;
        out.queue = VecDeque::new();
        self.wake.notify_one();
    }

    /// Writes queued frames while the socket takes them; the bytes written. Stops when the
    /// queue has drained ([`Viewer::pending`] is false) or the socket is full again (wait
    /// until it is writable).
    pub fn flush(&self) -> io::Result<usize> {
        let mut out = lock(&self.out);
        let mut written = 0;
        while !out.queue.is_empty() {
            let slices: Vec<IoSlice<'_>> = out
                .queue
                .iter()
                .take(MAX_IOVECS)
                .map(|b| IoSlice::new(b))
                .collect();
            match self.stream.try_write_vectored(&slices) {
                Ok(mut n) => {
                    drop(slices);
                    written += n;
                    while n > 0 {
                        let Some(front) = out.queue.front_mut() else {
                            break;
                        };
                        if n >= front.len() {
                            n -= front.len();
                            out.queue.pop_front();
                        } else {
                            *front = front.slice(n..);
                            n = 0;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(written),
                Err(e) => {
                    self.fail(&mut out, Status::Broken);
                    return Err(e);
                }
            }
        }
        // Drained: give the memory back.
        out.queue = VecDeque::new();
        Ok(written)
    }
}

/// A shard: some of a hub's viewers and the task writing broadcasts to them.
#[derive(Debug)]
struct Shard {
    tx: mpsc::UnboundedSender<Frame>,
    viewers: Arc<Mutex<Vec<Arc<Viewer>>>>,
}

/// A hub's viewers, spread over shards (see the module docs).
#[derive(Debug)]
pub struct Fanout {
    shards: Box<[Shard]>,
    next: AtomicUsize,
    /// Every frame, for observers in tests ([`super::Hub::frames`]); sent only while one
    /// listens.
    tap: broadcast::Sender<Frame>,
}

impl Fanout {
    /// One shard per runtime worker (call inside the runtime); each writes through io_uring if
    /// `io_uring` and the kernel allows it.
    pub fn new(tap_capacity: usize, io_uring: bool) -> Self {
        let workers = tokio::runtime::Handle::current().metrics().num_workers();
        let shards = (0..workers.clamp(1, MAX_SHARDS))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                let viewers = Arc::new(Mutex::new(Vec::new()));
                tokio::spawn(run_shard(rx, viewers.clone(), io_uring));
                Shard { tx, viewers }
            })
            .collect();
        Self {
            shards,
            next: AtomicUsize::new(0),
            tap: broadcast::channel(tap_capacity.max(1)).0,
        }
    }

    /// Hands a broadcast to every viewer (through the shards' tasks, in order).
    pub fn send(&self, frame: Frame) {
        if self.tap.receiver_count() > 0 {
            let _ = self.tap.send(frame.clone());
        }
        for shard in self.shards.iter() {
            let _ = shard.tx.send(frame.clone());
        }
    }

    /// A receiver of every frame handed over from now on (for tests and observers).
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.tap.subscribe()
    }

    /// Adds a viewer: `greet` sends it its first frames under the shard's lock, so no
    /// broadcast reaches it before them. Dropping the returned guard removes it.
    pub fn attach<R>(
        &self,
        viewer: Arc<Viewer>,
        greet: impl FnOnce(&Viewer) -> R,
    ) -> (Attached, R) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        let shard = &self.shards[i];
        let mut list = lock(&shard.viewers);
        let greeted = greet(&viewer);
        list.push(viewer.clone());
        drop(list);
        (
            Attached {
                viewers: shard.viewers.clone(),
                viewer,
            },
            greeted,
        )
    }
}

/// A viewer's place in its shard; dropping it removes the viewer.
#[derive(Debug)]
pub struct Attached {
    viewers: Arc<Mutex<Vec<Arc<Viewer>>>>,
    viewer: Arc<Viewer>,
}

impl Drop for Attached {
    fn drop(&mut self) {
        let mut list = lock(&self.viewers);
        if let Some(i) = list.iter().position(|v| Arc::ptr_eq(v, &self.viewer)) {
            list.swap_remove(i);
        }
        if list.is_empty() {
            *list = Vec::new();
        }
    }
}

/// A shard's task: writes each broadcast to the shard's viewers, in order.
async fn run_shard(
    mut rx: mpsc::UnboundedReceiver<Frame>,
    viewers: Arc<Mutex<Vec<Arc<Viewer>>>>,
    io_uring: bool,
) {
    #[cfg(not(target_os = "linux"))]
    let _ = io_uring;
    while let Some(frame) = rx.recv().await {
        let list = lock(&viewers);
        // The worker thread's ring, borrowed only for this synchronous loop (no await); what
        // it did not handle is written with `try_write`.
        #[cfg(target_os = "linux")]
        let rest = match io_uring
            .then(|| uring::with_ring(|ring| deliver_batched(ring, &list, &frame)))
            .flatten()
        {
            Some(Ok(())) => continue,
            Some(Err(done)) => &list[done..],
            None => &list[..],
        };
        #[cfg(not(target_os = "linux"))]
        let rest = &list[..];
        for viewer in rest {
            viewer.deliver(&frame);
        }
    }
}

/// Writes `frame` to `list` through the ring, [`uring::BATCH`] sockets per system call. Each
/// viewer is decided and written under its lock, as [`Viewer::deliver`] does; the locks of a
/// batch are held until its sends have completed, so none of the connection's own frames can
/// slip in between (such a frame waits for the batch: at most 128 sends, ~1 ms on loopback).
/// If the ring fails, the viewers of the failing batch whose outcome is unknown are closed, and
/// the error says how many viewers of `list` have been handled (the ring is not used again:
/// [`uring::with_ring`]).
#[cfg(target_os = "linux")]
fn deliver_batched(
    ring: &mut uring::Ring,
    list: &[Arc<Viewer>],
    frame: &Frame,
) -> Result<(), uring::Failed<usize>> {
    use std::os::fd::AsRawFd;
    let bytes = frame.frame.wire();
    let mut fds = Vec::with_capacity(uring::BATCH);
    let mut held: Vec<(&Viewer, MutexGuard<'_, Out>)> = Vec::with_capacity(uring::BATCH);
    for (n, chunk) in list.chunks(uring::BATCH).enumerate() {
        for viewer in chunk {
            let mut out = lock(&viewer.out);
            if !viewer.admit(&mut out, frame) {
                continue;
            }
            if out.queue.is_empty() {
                fds.push(viewer.stream.as_raw_fd());
                held.push((viewer, out));
            } else {
                viewer.write(&mut out, bytes, false);
                drop(out);
                viewer.sample(frame);
            }
        }
        // A send whose outcome a failing ring left unknown comes back as an error: that
        // viewer is closed (its stream may hold part of a frame; it reconnects and resyncs).
        let result = ring.send_all(&fds, bytes, |i, r| {
            let (viewer, out) = &mut held[i];
            viewer.wrote(out, bytes, r);
        });
        for (viewer, out) in held.drain(..) {
            drop(out);
            viewer.sample(frame);
        }
        fds.clear();
        result.map_err(|uring::Failed(e, ())| uring::Failed(e, n * uring::BATCH + chunk.len()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// A server-side stream whose peer has a tiny receive window and reads only when told.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(2048).unwrap();
        let (client, accepted) = tokio::join!(
            socket.connect(listener.local_addr().unwrap()),
            listener.accept()
        );
        (accepted.unwrap().0, client.unwrap())
    }

    fn numbered(i: u32) -> Frame {
        // Big enough to fill the kernel's buffers quickly.
        Frame::new(
            u64::from(i) + 1,
            None,
            &format!("{i:08}{}", "x".repeat(3000)),
        )
    }

    /// Reads server frames (unmasked text) off `client` until `n` arrived; their numbers.
    async fn read_numbers(client: &mut TcpStream, n: usize) -> Vec<u32> {
        let mut buf = Vec::new();
        let mut got = Vec::new();
        let mut chunk = vec![0u8; 65536];
        while got.len() < n {
            let k =
                tokio::time::timeout(std::time::Duration::from_secs(10), client.read(&mut chunk))
                    .await
                    .expect("frames keep coming")
                    .unwrap();
            assert!(k > 0, "closed after {} frames", got.len());
            buf.extend_from_slice(&chunk[..k]);
            loop {
                if buf.len() < 4 {
                    break;
                }
                assert_eq!(
                    buf[0],
                    0x81,
                    "a whole text frame after {} frames",
                    got.len()
                );
                let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
                if buf.len() < 4 + len {
                    break;
                }
                let text = std::str::from_utf8(&buf[4..12]).unwrap();
                got.push(text.parse().unwrap());
                buf.drain(..4 + len);
            }
        }
        got
    }

    /// The connection's part: writes `viewer`'s queue out whenever its socket is writable,
    /// until it has drained (the task holds the reference it is given).
    fn writer(viewer: Arc<Viewer>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while viewer.pending() {
                viewer.stream().writable().await.unwrap();
                viewer.flush().unwrap();
            }
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_stay_in_order_across_the_fallback_to_the_queue() {
        let (server, mut client) = pair().await;
        let metrics = Arc::new(Metrics::new(None));
        let viewer = Arc::new(Viewer::new(server, 1, 100_000, metrics));
        // Direct writes until the socket is full, then through the queue.
        let mut sent = 0u32;
        while !viewer.pending() {
            viewer.deliver(&numbered(sent));
            sent += 1;
            assert!(sent < 100_000, "the socket never filled");
        }
        // Once something is queued, everything goes through the queue, even after the
        // socket could take more.
        for _ in 0..50 {
            viewer.deliver(&numbered(sent));
            sent += 1;
        }
        assert!(viewer.pending());
        // The connection's part: write the queue out when the socket is writable.
        let writer = writer(viewer.clone());
        let got = read_numbers(&mut client, sent as usize).await;
        writer.await.unwrap();
        assert_eq!(got, (0..sent).collect::<Vec<_>>());
        assert_eq!(viewer.status(), Status::Open);
        // Old revisions are skipped per viewer.
        viewer.deliver(&numbered(0));
        assert!(!viewer.pending());
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batched_delivery_keeps_every_viewer_in_order_across_the_fallback_to_the_queue() {
        let mut ring = uring::Ring::new().expect("io_uring on this kernel");
        let metrics = Arc::new(Metrics::new(None));
        let mut clients = Vec::new();
        let mut viewers = Vec::new();
        for id in 1..=3 {
            let (server, client) = pair().await;
            clients.push(client);
            viewers.push(Arc::new(Viewer::new(server, id, 100_000, metrics.clone())));
        }
        // Direct writes through the ring until every socket is full, then through the queues.
        let mut sent = 0u32;
        while !viewers.iter().all(|v| v.pending()) {
            deliver_batched(&mut ring, &viewers, &numbered(sent)).unwrap();
            sent += 1;
            assert!(sent < 100_000, "the sockets never filled");
        }
        for _ in 0..50 {
            deliver_batched(&mut ring, &viewers, &numbered(sent)).unwrap();
            sent += 1;
        }
        let writers: Vec<_> = viewers.iter().cloned().map(writer).collect();
        for client in &mut clients {
            let got = read_numbers(client, sent as usize).await;
            assert_eq!(got, (0..sent).collect::<Vec<_>>());
        }
        for w in writers {
            w.await.unwrap();
        }
        assert!(viewers.iter().all(|v| v.status() == Status::Open));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batched_delivery_reaches_more_viewers_than_one_batch_once_each() {
        let mut ring = uring::Ring::new().expect("io_uring on this kernel");
        let metrics = Arc::new(Metrics::new(None));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let n = uring::BATCH * 2 + 7;
        let mut clients = Vec::new();
        let mut viewers = Vec::new();
        for id in 0..n {
            let (client, accepted) = tokio::join!(
                TcpStream::connect(listener.local_addr().unwrap()),
                listener.accept()
            );
            clients.push(client.unwrap());
            let server = accepted.unwrap().0;
            viewers.push(Arc::new(Viewer::new(
                server,
                id as u64,
                32,
                metrics.clone(),
            )));
        }
        for i in 0..3 {
            deliver_batched(&mut ring, &viewers, &numbered(i)).unwrap();
        }
        // An older revision than what they have is skipped for every viewer.
        deliver_batched(&mut ring, &viewers, &numbered(1)).unwrap();
        assert!(viewers.iter().all(|v| !v.pending()));
        // One more after it, so a skipped frame would show up before it.
        deliver_batched(&mut ring, &viewers, &numbered(3)).unwrap();
        for client in &mut clients {
            assert_eq!(read_numbers(client, 4).await, vec![0, 1, 2, 3]);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_viewer_whose_queue_overflows_is_slow_and_gets_4008_behind_the_frame_in_flight() {
        let (server, mut client) = pair().await;
        let metrics = Arc::new(Metrics::new(None));
        let viewer = Arc::new(Viewer::new(server, 1, 8, metrics.clone()));
        let mut sent = 0u32;
        while !viewer.pending() {
            viewer.deliver(&numbered(sent));
            sent += 1;
        }
        for _ in 0..8 {
            viewer.deliver(&numbered(sent));
            sent += 1;
        }
        assert_eq!(viewer.status(), Status::Slow);
        assert_eq!(metrics.overflows.get(), 1);
        // Nothing more is written or queued; the Close follows the frame that was in flight.
        viewer.deliver(&numbered(sent));
        assert_eq!(lock(&viewer.out).queue.len(), 2);
        // The writer holds the last reference: the socket closes once the queue is out.
        let writer = writer(viewer);
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            client.read_to_end(&mut rest),
        )
        .await;
        writer.await.unwrap();
        let close = Prepared::close(close::TOO_SLOW, SLOW_REASON);
        assert!(
            rest.ends_with(close.wire()),
            "the stream ends with Close 4008 ({} bytes)",
            rest.len()
        );
    }
}
