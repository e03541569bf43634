//! A small TCP proxy between a server and Redis that can freeze (stop forwarding without
//! closing: a half-open path) or cut (close) the connections that carry a subscription, so
//! faults on the subscriber's path can be produced without external tools.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One proxied connection's controls.
struct Link {
    /// Set once the client sent a `SUBSCRIBE` on it.
    subscriber: Arc<AtomicBool>,
    /// `true` = frozen: nothing is forwarded in either direction, nothing is closed.
    frozen: watch::Sender<bool>,
    /// Closes both sides.
    cut: watch::Sender<bool>,
}

/// The proxy: listens on 127.0.0.1:`port`, forwards to `upstream`.
pub struct Proxy {
    /// The port servers connect to.
    pub port: u16,
    links: Arc<Mutex<Vec<Link>>>,
    accepted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding 127.0.0.1:(free port) → 127.0.0.1:`upstream`.
    pub async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let links: Arc<Mutex<Vec<Link>>> = Arc::default();
        let accepted = Arc::new(AtomicU64::new(0));
        let (l, a) = (links.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    continue;
                };
                a.fetch_add(1, Ordering::Relaxed);
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let subscriber = Arc::new(AtomicBool::new(false));
                let (frozen, _) = watch::channel(false);
                let (cut, _) = watch::channel(false);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pipe(
                    cr,
                    sw,
                    Some(subscriber.clone()),
                    frozen.subscribe(),
                    cut.subscribe(),
                ));
                tokio::spawn(pipe(sr, cw, None, frozen.subscribe(), cut.subscribe()));
                l.lock().expect("links").push(Link {
                    subscriber,
                    frozen,
                    cut,
                });
            }
        });
        Proxy {
            port,
            links,
            accepted,
            task,
        }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Freezes every current subscriber connection (half-open: no data, no FIN, no RST);
    /// returns how many.
    pub fn freeze_subscribers(&self) -> usize {
        self.each_subscriber(|l| {
            l.frozen.send_replace(true);
        })
    }

    /// Closes every current subscriber connection; returns how many.
    pub fn cut_subscribers(&self) -> usize {
        self.each_subscriber(|l| {
            l.cut.send_replace(true);
        })
    }

    fn each_subscriber(&self, f: impl Fn(&Link)) -> usize {
        let links = self.links.lock().expect("links");
        let mut n = 0;
        for l in links.iter() {
            if l.subscriber.load(Ordering::Relaxed) && !*l.cut.borrow() && !*l.frozen.borrow() {
                f(l);
                n += 1;
            }
        }
        n
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        for l in self.links.lock().expect("links").iter() {
            l.cut.send_replace(true);
        }
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    sniff: Option<Arc<AtomicBool>>,
    mut frozen: watch::Receiver<bool>,
    mut cut: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = cut.wait_for(|c| *c) => return,
        };
        if let Some(flag) = &sniff {
            if buf[..n]
                .windows(9)
                .any(|w| w.eq_ignore_ascii_case(b"SUBSCRIBE"))
            {
                flag.store(true, Ordering::Relaxed);
            }
        }
        // Frozen: hold the bytes (and everything after them) until cut.
        tokio::select! {
            _ = frozen.wait_for(|f| !*f) => {}
            _ = cut.wait_for(|c| *c) => return,
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
