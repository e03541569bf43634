//! The server's own WebSocket codec (issue 16) over a raw TCP socket: the handshake, frames
//! arriving with the handshake, fragmented messages, the close codes of malformed input
//! (1002 protocol error, 1007 bad UTF-8, 1009 too large) and the answers to the client's Close
//! (issue 26: a malformed Close or one with a code that may not be on the wire is answered
//! 1002, a reason that is not UTF-8 1007; a valid one is echoed). A raw socket because a
//! WebSocket library refuses to send most of these.

use crate::common::{create, spawn, Store};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use watchparty_core::protocol::close;

const WAIT: Duration = Duration::from_secs(5);

/// A masked client frame.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 65535 {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}

/// A raw WebSocket connection: handshake done, frames read by hand.
struct Raw {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Connects to `/ws/{id}`, sending `early` right behind the request (same write).
    async fn connect(addr: std::net::SocketAddr, id: &str, early: &[u8]) -> Raw {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        let mut request = format!(
            "GET /ws/{id} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Protocol: wp1\r\n\r\n"
        )
        .into_bytes();
        request.extend_from_slice(early);
        tcp.write_all(&request).await.expect("request");
        let mut raw = Raw {
            tcp,
            buf: Vec::new(),
        };
        let head = raw.read_head().await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(
            head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "RFC 6455 accept key: {head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains("sec-websocket-protocol: wp1"),
            "{head}"
        );
        raw
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(WAIT, self.tcp.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => false,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(_) => panic!("nothing from the server within {WAIT:?}"),
        }
    }

    async fn read_head(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                return head;
            }
            assert!(self.fill().await, "connection closed during the handshake");
        }
    }

    /// The next server frame `(opcode, payload)`; `None` at the end of the stream.
    async fn next(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                assert_eq!(self.buf[1] & 0x80, 0, "server frames are not masked");
                let (len, at) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => (
                        usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
                        4,
                    ),
                    127 if self.buf.len() >= 10 => {
                        let mut n = [0u8; 8];
                        n.copy_from_slice(&self.buf[2..10]);
                        (u64::from_be_bytes(n) as usize, 10)
                    }
                    126 | 127 => (usize::MAX, 0),
                    n => (usize::from(n), 2),
                };
                if len != usize::MAX && self.buf.len() >= at + len {
                    assert_eq!(self.buf[0] & 0x80, 0x80, "server frames are whole");
                    let opcode = self.buf[0] & 0x0f;
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some((opcode, payload));
                }
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// The next text message's JSON `type`, skipping control frames.
    async fn next_type(&mut self) -> String {
        loop {
            let (opcode, payload) = self.next().await.expect("a message");
            if opcode == 1 {
                let v: serde_json::Value = serde_json::from_slice(&payload).expect("JSON");
                return v["type"].as_str().unwrap_or_default().to_string();
            }
            assert!(opcode >= 8, "unexpected opcode {opcode}");
        }
    }

    /// The next message of JSON type `want`, skipping broadcasts that may come in between
    /// (the room's list and the viewer count change as viewers join).
    async fn wait_type(&mut self, want: &str) {
        loop {
            let t = self.next_type().await;
            if t == want {
                return;
            }
            assert!(
                t == "roster" || t == "presence",
                "{t} while waiting for {want}"
            );
        }
    }

    /// The next control frame, skipping text frames (broadcasts).
    async fn next_control(&mut self) -> (u8, Vec<u8>) {
        loop {
            let (opcode, payload) = self.next().await.expect("a frame");
            if opcode >= 8 {
                return (opcode, payload);
            }
        }
    }

    /// Reads until the server's Close; its code.
    async fn close_code(&mut self) -> Option<u16> {
        let payload = self.close_payload().await?;
        (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]))
    }

    /// Reads until the server's Close; its payload (`None`: the stream ended without one).
    async fn close_payload(&mut self) -> Option<Vec<u8>> {
        while let Some((opcode, payload)) = self.next().await {
            if opcode == 8 {
                return Some(payload);
            }
        }
        None
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.expect("send");
    }

    /// The greeting: hello, the room's list, the history.
    async fn greeted(&mut self) {
        assert_eq!(self.next_type().await, "hello");
        assert_eq!(self.next_type().await, "roster");
        assert_eq!(self.next_type().await, "history");
    }
}

const PING: &[u8] = br#"{"type":"ping","t0":1}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_sent_with_the_handshake_and_fragmented_messages_are_read() {
    let server = spawn(Store::Memory).await;
    let id = create(&server, 0.0).await;
    // A ping in the same packet as the upgrade request.
    let mut c = Raw::connect(server.addr, id.as_str(), &frame(true, 1, PING)).await;
    c.greeted().await;
    c.wait_type("pong").await;
    // A text message in three fragments, with a WebSocket ping between them.
    let mut bytes = frame(false, 1, &PING[..5]);
    bytes.extend(frame(false, 0, &PING[5..10]));
    bytes.extend(frame(true, 9, b"hi"));
    bytes.extend(frame(true, 0, &PING[10..]));
    c.send(&bytes).await;
    assert_eq!(
        c.next_control().await,
        (10, b"hi".to_vec()),
        "pong echoes the ping"
    );
    c.wait_type("pong").await;
    // A clean close is answered with a Close.
    c.send(&frame(true, 8, &1000u16.to_be_bytes())).await;
    assert_eq!(c.close_code().await, Some(1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_close_with_their_codes() {
    let server = spawn(Store::Memory).await;
    let id = create(&server, 0.0).await;
    let unmasked = {
        let mut f = vec![0x81, PING.len() as u8];
        f.extend_from_slice(PING);
        f
    };
    let huge = {
        let mut f = vec![0x81, 0x80 | 127];
        f.extend_from_slice(&(1u64 << 40).to_be_bytes());
        f.extend_from_slice(&[0; 4]);
        f
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked", unmasked, 1002),
        ("reserved opcode", frame(true, 3, b"x"), 1002),
        ("continuation alone", frame(true, 0, b"x"), 1002),
        ("fragmented ping", frame(false, 9, b"x"), 1002),
        ("not UTF-8", frame(true, 1, &[0xc3, 0x28]), 1007),
        ("2^40 bytes announced", huge, close::TOO_BIG),
        (
            "fragments over the cap",
            {
                let mut f = frame(false, 1, &[b' '; 3000]);
                f.extend(frame(true, 0, &[b' '; 3000]));
                f
            },
            close::TOO_BIG,
        ),
    ];
    for (what, bytes, code) in cases {
        let mut c = Raw::connect(server.addr, id.as_str(), &[]).await;
        c.greeted().await;
        c.send(&bytes).await;
        assert_eq!(c.close_code().await, Some(code), "{what}");
    }
    // The others carry on.
    let mut c = Raw::connect(server.addr, id.as_str(), &[]).await;
    c.greeted().await;
    c.send(&frame(true, 1, PING)).await;
    c.wait_type("pong").await;
}

/// A Close payload: the code, then the reason's bytes.
fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// How the server answers a client's Close.
#[derive(Debug)]
enum Answer {
    /// A Close with this code.
    Code(u16),
    /// The same Close back (code and reason; nothing for an empty one).
    Echo,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_frames_are_checked_and_answered() {
    let server = spawn(Store::Memory).await;
    let id = create(&server, 0.0).await;
    let bye = "au revoir \u{1f44b}".as_bytes();
    let cases: Vec<(&str, Vec<u8>, Answer)> = vec![
        ("1-byte payload", vec![0x03], Answer::Code(1002)),
        ("code 999", close_payload(999, b""), Answer::Code(1002)),
        ("code 1004", close_payload(1004, b""), Answer::Code(1002)),
        ("code 1005", close_payload(1005, b""), Answer::Code(1002)),
        ("code 1006", close_payload(1006, b"x"), Answer::Code(1002)),
        ("code 1015", close_payload(1015, b""), Answer::Code(1002)),
        ("code 2999", close_payload(2999, b""), Answer::Code(1002)),
        ("code 5000", close_payload(5000, b""), Answer::Code(1002)),
        (
            "reason not UTF-8",
            close_payload(1000, &[0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xff]),
            Answer::Code(1007),
        ),
        ("empty", Vec::new(), Answer::Echo),
        ("code 1000", close_payload(1000, b""), Answer::Echo),
        ("code 3000", close_payload(3000, b""), Answer::Echo),
        (
            "code 4999 and a reason",
            close_payload(4999, bye),
            Answer::Echo,
        ),
        (
            "code 1014 and the longest reason",
            close_payload(1014, &[b'r'; 123]),
            Answer::Echo,
        ),
    ];
    for (what, payload, answer) in cases {
        let mut c = Raw::connect(server.addr, id.as_str(), &[]).await;
        c.greeted().await;
        c.send(&frame(true, 8, &payload)).await;
        let got = c.close_payload().await.expect("the server's Close");
        match answer {
            Answer::Code(code) => {
                assert!(got.len() >= 2, "{what}: {got:?}");
                assert_eq!(u16::from_be_bytes([got[0], got[1]]), code, "{what}");
                assert!(std::str::from_utf8(&got[2..]).is_ok(), "{what}");
            }
            Answer::Echo => assert_eq!(got, payload, "{what}"),
        }
    }
    // The others carry on.
    let mut c = Raw::connect(server.addr, id.as_str(), &[]).await;
    c.greeted().await;
    c.send(&frame(true, 1, PING)).await;
    c.wait_type("pong").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_upgrade_requests_get_http_errors() {
    let server = spawn(Store::Memory).await;
    let id = create(&server, 0.0).await;
    for (request, status) in [
        (format!("POST /ws/{id} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), "405"),
        (
            format!("GET /ws/{id} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: a\r\n\r\n"),
            "400",
        ),
    ] {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut head = [0u8; 12];
        tokio::time::timeout(WAIT, tcp.read_exact(&mut head))
            .await
            .unwrap()
            .unwrap();
        let head = String::from_utf8_lossy(&head).into_owned();
        assert!(head.ends_with(status), "{request}: {head}");
    }
}
