//! Batched non-blocking sends through io_uring (Linux): one system call writes a broadcast into
//! up to [`BATCH`] sockets, instead of one `send` per socket.
//!
//! Each send is `IORING_OP_SEND` with `MSG_DONTWAIT`, so the kernel performs it inline while the
//! batch is submitted and never parks it: a full socket completes at once with `EAGAIN`, as
//! `send(MSG_DONTWAIT)` would, and the caller queues the frame for that viewer exactly as on the
//! `try_write` path. [`Ring::send_all`] returns only once every send of the batch has completed,
//! which is what makes lending the kernel the frame's bytes sound.
//!
//! Each thread that fans out (the runtime's workers) has one ring ([`with_ring`]), created on
//! first use and borrowed only within one synchronous loop, so the rings are as many as the
//! workers, whatever the number of sessions (each costs a descriptor and ~16 KB of kernel
//! memory).
//!
//! The ring is an optimisation, never a requirement: where the kernel refuses to create one
//! (kernels before 5.6, `io_uring_disabled`, a container's seccomp profile), [`with_ring`]
//! returns `None` and the shard writes with `try_write` per viewer, as it does from then on on
//! a thread whose ring failed.

use io_uring::{opcode, types, IoUring};
use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;

/// Most sends in one submission (the ring's size).
pub const BATCH: usize = 128;

/// The ring failed in a way that leaves the outcome of some sends unknown (never observed; the
/// ring is not used again), with what the caller adds to it.
#[derive(Debug)]
pub struct Failed<T = ()>(pub io::Error, pub T);

enum Slot {
    Untried,
    Ready(Box<Ring>),
    Unavailable,
}

thread_local! {
    static RING: RefCell<Slot> = const { RefCell::new(Slot::Untried) };
}

/// Runs `f` with this thread's ring, created on first use; `None` (without running `f`) where
/// the thread has none: the kernel refused one, or it failed before. A failure `f` returns
/// retires the ring.
pub fn with_ring<T, E>(f: impl FnOnce(&mut Ring) -> Result<T, Failed<E>>) -> Option<Result<T, E>> {
    RING.with(|slot| {
        let mut slot = slot.borrow_mut();
        if matches!(*slot, Slot::Untried) {
            *slot = Ring::new().map_or(Slot::Unavailable, |r| Slot::Ready(Box::new(r)));
        }
        let Slot::Ready(ring) = &mut *slot else {
            return None;
        };
        Some(f(ring).map_err(|Failed(e, extra)| {
            tracing::error!(error = %e, "io_uring failed; this thread's fan-out writes with send() from now on");
            *slot = Slot::Unavailable;
            extra
        }))
    })
}

/// One worker thread's submission and completion queues.
pub struct Ring {
    ring: IoUring,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring").finish_non_exhaustive()
    }
}

impl Ring {
    /// A ring for [`BATCH`] sends, or `None` where the kernel does not allow one (the fan-out
    /// uses [`with_ring`]; tests make their own).
    pub fn new() -> Option<Self> {
        match IoUring::new(BATCH as u32) {
            Ok(ring) => Some(Self { ring }),
            Err(e) => {
                tracing::info!(error = %e, "io_uring unavailable; the fan-out writes with send()");
                None
            }
        }
    }

    /// Writes `bytes` to each socket of `fds` (at most [`BATCH`]) without blocking, and calls
    /// `done(i, result)` exactly once for each: `Ok(n)` when the socket took `n` bytes (possibly
    /// fewer than all), an error otherwise (`WouldBlock` when it took none). Returns when every
    /// send has completed.
    ///
    /// On `Err` the ring must not be used again; the sends whose outcome it left unknown have
    /// been reported as errors (not `WouldBlock`: the stream may hold part of the bytes).
    pub fn send_all(
        &mut self,
        fds: &[RawFd],
        bytes: &[u8],
        mut done: impl FnMut(usize, io::Result<usize>),
    ) -> Result<(), Failed> {
        assert!(fds.len() <= BATCH, "a batch larger than the ring");
        let mut reported = [false; BATCH];
        let result = self.submit_and_reap(fds, bytes, &mut |i, r| {
            reported[i] = true;
            done(i, r);
        });
        result.map_err(|e| {
            for (i, _) in reported[..fds.len()]
                .iter()
                .enumerate()
                .filter(|(_, r)| !**r)
            {
                done(i, Err(io::Error::other("io_uring failed; outcome unknown")));
            }
            Failed(e, ())
        })
    }

    /// [`Ring::send_all`] but for the sends a failure leaves unreported.
    fn submit_and_reap(
        &mut self,
        fds: &[RawFd],
        bytes: &[u8],
        done: &mut dyn FnMut(usize, io::Result<usize>),
    ) -> io::Result<()> {
        let len =
            u32::try_from(bytes.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        if fds.is_empty() {
            return Ok(());
        }
        {
            let mut sq = self.ring.submission();
            for (i, &fd) in fds.iter().enumerate() {
                let entry = opcode::Send::new(types::Fd(fd), bytes.as_ptr(), len)
                    .flags(libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
                    .build()
                    .user_data(i as u64);
                // SAFETY: `bytes` and the descriptors stay valid until this function returns,
                // and it returns only after every entry pushed here has completed (or, on
                // `Failed`, the ring is dropped unused; see the module docs). The queue was
                // emptied by the previous call, so `BATCH` entries fit.
                unsafe { sq.push(&entry) }
                    .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
            }
        }
        let mut completed = 0;
        while completed < fds.len() {
            match self.ring.submit_and_wait(fds.len() - completed) {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINTR | libc::EAGAIN | libc::EBUSY)
                    ) => {}
                Err(e) => return Err(e),
            }
            for cqe in self.ring.completion() {
                let i = usize::try_from(cqe.user_data()).unwrap_or(usize::MAX);
                if i >= fds.len() {
                    continue;
                }
                let res = cqe.result();
                done(
                    i,
                    if res >= 0 {
                        Ok(res as usize)
                    } else {
                        Err(io::Error::from_raw_os_error(-res))
                    },
                );
                completed += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }

    #[test]
    fn sends_to_every_socket_and_reports_would_block_for_a_full_one() {
        let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .is_ok_and(|s| s.trim() != "0");
        let Some(mut ring) = Ring::new() else {
            // Only where the kernel says it turned io_uring off (the send() path is what
            // fanout's own tests cover there).
            assert!(disabled, "io_uring should be available on this kernel");
            return;
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let pairs: Vec<_> = (0..5).map(|_| pair(&listener)).collect();
        // The last socket is filled until it takes nothing more.
        let full = &pairs[4].0;
        full.set_nonblocking(true).unwrap();
        let junk = vec![0u8; 65536];
        let mut writer: &TcpStream = full;
        while writer.write(&junk).is_ok_and(|n| n > 0) {}
        let fds: Vec<RawFd> = pairs.iter().map(|(s, _)| s.as_raw_fd()).collect();
        let mut results = vec![None; fds.len()];
        ring.send_all(&fds, b"hello", |i, r| {
            assert!(results[i].is_none(), "one completion per send");
            results[i] = Some(r.map_err(|e| e.kind()));
        })
        .unwrap();
        for r in &results[..4] {
            assert_eq!(*r, Some(Ok(5)));
        }
        assert_eq!(results[4], Some(Err(io::ErrorKind::WouldBlock)));
        for (_, client) in &pairs[..4] {
            let mut buf = [0u8; 5];
            (&*client).read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"hello");
        }
        // The ring is reusable, and a closed descriptor is an error for that send only.
        let mut results = Vec::new();
        ring.send_all(&[fds[0], -1], b"again", |i, r| results.push((i, r.is_ok())))
            .unwrap();
        results.sort();
        assert_eq!(results, vec![(0, true), (1, false)]);
    }
}
