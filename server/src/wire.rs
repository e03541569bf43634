//! A small server-side RFC 6455 codec: prepared (already framed) server frames and a decoder
//! for the frames a client sends.
//!
//! **Server → client.** A server frame is never masked, so the bytes of one broadcast are the
//! same for every viewer: [`Prepared`] frames a message once (header and payload in one shared
//! [`Bytes`]) and every socket is handed the same buffer; nothing is framed or copied per
//! viewer.
//!
//! **Client → server.** [`Decoder`] reads masked client frames. It holds no buffer while idle:
//! bytes that do not yet make a whole frame are kept in a `Vec` allocated on demand and released
//! once consumed. A frame (or a fragmented message) longer than the cap is refused
//! ([`WireError::TooBig`], close 1009) and its payload skipped without buffering it; an
//! unmasked frame, a reserved bit or opcode, a fragmented or oversized control frame, a stray
//! continuation are protocol errors (close 1002); a text message that is not UTF-8 closes with
//! 1007. Fragmented data messages are reassembled (up to the cap); control frames may arrive
//! between the fragments.
//!
//! **Close frames** (RFC 6455 §5.5.1, §7.4). A client's Close is read as [`Incoming::Close`]
//! only when it is well formed: empty, or a code that may appear on the wire
//! ([`is_wire_close_code`]: 1000–1003, 1007–1014, 3000–4999) followed by a UTF-8 reason. A
//! 1-byte payload or any other code (below 1000, 1004–1006, 1015, 1016–2999, 5000 and up) is a
//! protocol error (1002); a reason that is not UTF-8 closes with 1007. The server's own Close
//! never carries a code that may not be sent ([`Prepared::close`]).

use bytes::{BufMut, Bytes, BytesMut};

/// Opcodes (RFC 6455 §5.2).
mod op {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// Longest control frame payload (RFC 6455 §5.5).
const MAX_CONTROL: usize = 125;

/// May `code` appear in a Close frame on the wire (RFC 6455 §7.4)? The defined codes
/// 1000–1003 and 1007–1014, and the ranges for libraries and applications (3000–4999). Not
/// 1004 (reserved), 1005 (no status), 1006 (abnormal closure) and 1015 (TLS failure), which
/// only report locally what happened, nor the unassigned rest of 0–2999 and 5000 up.
pub fn is_wire_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A server frame, framed once: the bytes written to every socket.
#[derive(Clone, Debug)]
pub struct Prepared {
    wire: Bytes,
    header: usize,
}

impl Prepared {
    fn new(opcode: u8, payload: &[u8]) -> Self {
        let len = payload.len();
        let mut buf = BytesMut::with_capacity(len + 10);
        buf.put_u8(0x80 | opcode);
        if len < 126 {
            buf.put_u8(len as u8);
        } else if len <= usize::from(u16::MAX) {
            buf.put_u8(126);
            buf.put_u16(len as u16);
        } else {
            buf.put_u8(127);
            buf.put_u64(len as u64);
        }
        let header = buf.len();
        buf.extend_from_slice(payload);
        Self {
            wire: buf.freeze(),
            header,
        }
    }

    /// A text frame.
    pub fn text(text: &str) -> Self {
        Self::new(op::TEXT, text.as_bytes())
    }

    /// A ping with an empty payload.
    pub fn ping() -> Self {
        Self::new(op::PING, &[])
    }

    /// A pong echoing `payload` (at most 125 bytes, as the ping's).
    pub fn pong(payload: &[u8]) -> Self {
        Self::new(op::PONG, &payload[..payload.len().min(MAX_CONTROL)])
    }

    /// A close frame with a code and a reason (cut to fit a control frame). A code that may
    /// not be sent ([`is_wire_close_code`] is false: 1005, 1006, 1015…) gives an empty close
    /// frame instead (no code, no reason), so the server never puts one on the wire.
    pub fn close(code: u16, reason: &str) -> Self {
        if !is_wire_close_code(code) {
            return Self::close_empty();
        }
        let mut cut = reason.len().min(MAX_CONTROL - 2);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut payload = Vec::with_capacity(2 + cut);
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(&reason.as_bytes()[..cut]);
        Self::new(op::CLOSE, &payload)
    }

    /// A close frame without a code (the answer to a client's empty Close).
    pub fn close_empty() -> Self {
        Self::new(op::CLOSE, &[])
    }

    /// The whole frame (header and payload), shared.
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// The payload (for a text frame, the text).
    pub fn payload(&self) -> &[u8] {
        &self.wire[self.header..]
    }

    /// The payload of a text frame as text.
    pub fn text_str(&self) -> &str {
        std::str::from_utf8(self.payload()).unwrap_or_default()
    }
}

/// A message read from a client.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A (reassembled) text message.
    Text(String),
    /// A (reassembled) binary message; its content is not kept.
    Binary,
    /// A ping (answered with a pong carrying this payload).
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// A well-formed close frame: its code and reason, `None` when it was empty.
    Close(Option<CloseFrame>),
}

/// The code and reason of a client's Close (checked: see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// A code that may appear on the wire ([`is_wire_close_code`]).
    pub code: u16,
    /// The reason, UTF-8 (at most 123 bytes, as a control frame holds).
    pub reason: String,
}

/// Why a client's input cannot be read on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A frame or message over the cap (close 1009).
    #[error("frame too large")]
    TooBig,
    /// A violation of RFC 6455 (close 1002).
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// A text message, or the reason of a Close, that is not UTF-8 (close 1007).
    #[error("text is not UTF-8")]
    NotUtf8,
}

impl WireError {
    /// The close code that answers this error.
    pub fn close_code(self) -> u16 {
        match self {
            WireError::TooBig => 1009,
            WireError::Protocol(_) => 1002,
            WireError::NotUtf8 => 1007,
        }
    }
}

/// The parts of a fragmented message read so far.
#[derive(Debug)]
struct Fragments {
    opcode: u8,
    data: Vec<u8>,
}

/// Reads client frames from the bytes fed to it (see the module docs).
#[derive(Debug)]
pub struct Decoder {
    max: usize,
    /// Input not yet consumed (empty, without capacity, while idle).
    buf: Vec<u8>,
    /// Bytes of the consumed prefix of `buf` (compacted when input is fed).
    start: usize,
    /// Payload bytes of a refused frame still to skip.
    skip: u64,
    /// A fragmented message being reassembled.
    fragments: Option<Fragments>,
}

impl Decoder {
    /// A decoder refusing frames and messages longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            buf: Vec::new(),
            start: 0,
            skip: 0,
            fragments: None,
        }
    }

    /// Feeds bytes read from the socket.
    pub fn feed(&mut self, data: &[u8]) {
        let data = self.skip_input(data);
        if data.is_empty() {
            return;
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Drops the part of `data` that belongs to a refused frame.
    fn skip_input<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let n = usize::try_from(self.skip)
            .unwrap_or(usize::MAX)
            .min(data.len());
        self.skip -= n as u64;
        &data[n..]
    }

    /// True when no input is held (nothing buffered, nothing being reassembled).
    pub fn is_idle(&self) -> bool {
        self.buf.len() == self.start && self.fragments.is_none()
    }

    /// Releases the input buffer once everything fed was consumed (the connection went idle).
    pub fn release(&mut self) {
        if self.buf.len() == self.start {
            self.buf = Vec::new();
            self.start = 0;
        }
    }

    /// The next complete message, `None` when more input is needed.
    pub fn next_message(&mut self) -> Result<Option<Incoming>, WireError> {
        loop {
            let Some((fin, opcode, payload)) = self.next_frame()? else {
                return Ok(None);
            };
            match opcode {
                op::CLOSE => return close_frame(&payload).map(|c| Some(Incoming::Close(c))),
                op::PING => return Ok(Some(Incoming::Ping(payload))),
                op::PONG => return Ok(Some(Incoming::Pong)),
                op::CONTINUATION => {
                    let Some(mut frags) = self.fragments.take() else {
                        return Err(WireError::Protocol("continuation without a message"));
                    };
                    if frags.data.len() + payload.len() > self.max {
                        return Err(WireError::TooBig);
                    }
                    frags.data.extend_from_slice(&payload);
                    if !fin {
                        self.fragments = Some(frags);
                        continue;
                    }
                    return message(frags.opcode, frags.data).map(Some);
                }
                op::TEXT | op::BINARY => {
                    if self.fragments.is_some() {
                        return Err(WireError::Protocol("new message inside a fragmented one"));
                    }
                    if !fin {
                        self.fragments = Some(Fragments {
                            opcode,
                            data: payload,
                        });
                        continue;
                    }
                    return message(opcode, payload).map(Some);
                }
                _ => return Err(WireError::Protocol("reserved opcode")),
            }
        }
    }

    /// The next whole frame: `(fin, opcode, unmasked payload)`.
    fn next_frame(&mut self) -> Result<Option<(bool, u8, Vec<u8>)>, WireError> {
        let input = &self.buf[self.start..];
        if input.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (input[0], input[1]);
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0F;
        if b0 & 0x70 != 0 {
            return Err(WireError::Protocol("reserved bits set"));
        }
        if b1 & 0x80 == 0 {
            return Err(WireError::Protocol("client frames must be masked"));
        }
        let control = opcode & 0x08 != 0;
        let (len, mut at) = match b1 & 0x7F {
            126 => {
                if input.len() < 4 {
                    return Ok(None);
                }
                (u64::from(u16::from_be_bytes([input[2], input[3]])), 4)
            }
            127 => {
                if input.len() < 10 {
                    return Ok(None);
                }
                let mut n = [0u8; 8];
                n.copy_from_slice(&input[2..10]);
                (u64::from_be_bytes(n), 10)
            }
            n => (u64::from(n), 2),
        };
        if control && (!fin || len > MAX_CONTROL as u64) {
            return Err(WireError::Protocol("fragmented or oversized control frame"));
        }
        let already = self.fragments.as_ref().map_or(0, |f| f.data.len()) as u64;
        if len.saturating_add(if opcode == op::CONTINUATION {
            already
        } else {
            0
        }) > self.max as u64
        {
            // Refuse it without reading it: skip the payload (and the mask) as it arrives.
            let total = len.saturating_add(at as u64 + 4);
            let here = (input.len() as u64).min(total);
            self.start += here as usize;
            self.skip = total - here;
            self.fragments = None;
            return Err(WireError::TooBig);
        }
        let len = len as usize;
        if input.len() < at + 4 + len {
            return Ok(None);
        }
        let mut mask = [0u8; 4];
        mask.copy_from_slice(&input[at..at + 4]);
        at += 4;
        let mut payload = input[at..at + len].to_vec();
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i & 3];
        }
        self.start += at + len;
        Ok(Some((fin, opcode, payload)))
    }
}

/// The code and reason of a Close's payload (RFC 6455 §5.5.1): empty, or a code that may be
/// on the wire and a UTF-8 reason.
fn close_frame(payload: &[u8]) -> Result<Option<CloseFrame>, WireError> {
    let (code, reason) = match payload {
        [] => return Ok(None),
        [_] => return Err(WireError::Protocol("close frame with a 1-byte payload")),
        [hi, lo, reason @ ..] => (u16::from_be_bytes([*hi, *lo]), reason),
    };
    if !is_wire_close_code(code) {
        return Err(WireError::Protocol("close code not allowed on the wire"));
    }
    let reason = std::str::from_utf8(reason).map_err(|_| WireError::NotUtf8)?;
    Ok(Some(CloseFrame {
        code,
        reason: reason.to_owned(),
    }))
}

fn message(opcode: u8, data: Vec<u8>) -> Result<Incoming, WireError> {
    if opcode == op::BINARY {
        return Ok(Incoming::Binary);
    }
    String::from_utf8(data)
        .map(Incoming::Text)
        .map_err(|_| WireError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame.
    fn client(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
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

    #[test]
    fn server_frames_are_framed_once_with_the_right_header() {
        let short = Prepared::text("hi");
        assert_eq!(&short.wire()[..], b"\x81\x02hi");
        assert_eq!(short.text_str(), "hi");
        let mid = Prepared::text(&"x".repeat(300));
        assert_eq!(&mid.wire()[..4], &[0x81, 126, 0x01, 0x2c]);
        assert_eq!(mid.payload().len(), 300);
        let long = Prepared::text(&"y".repeat(70_000));
        assert_eq!(&long.wire()[..2], &[0x81, 127]);
        assert_eq!(&long.wire()[2..10], &70_000u64.to_be_bytes());
        let close = Prepared::close(4008, "too slow");
        assert_eq!(&close.wire()[..4], &[0x88, 10, 0x0f, 0xa8]);
        // A long reason is cut to fit a control frame, on a character boundary.
        let cut = Prepared::close(1000, &"é".repeat(100));
        assert!(cut.payload().len() <= 125);
        assert!(std::str::from_utf8(&cut.payload()[2..]).is_ok());
        assert_eq!(&Prepared::ping().wire()[..], &[0x89, 0]);
    }

    #[test]
    fn reads_frames_split_anywhere_and_releases_its_buffer() {
        let mut input = client(true, op::TEXT, b"hello");
        input.extend(client(true, op::PING, b"p"));
        input.extend(client(true, op::TEXT, "x".repeat(1000).as_bytes()));
        input.extend(client(true, op::CLOSE, &1000u16.to_be_bytes()));
        let normal = CloseFrame {
            code: 1000,
            reason: String::new(),
        };
        for split in [1, 2, 3, 7, 100, input.len()] {
            let mut d = Decoder::new(4096);
            let mut got = Vec::new();
            for chunk in input.chunks(split) {
                d.feed(chunk);
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got.len(), 4, "split {split}");
            assert_eq!(got[0], Incoming::Text("hello".into()));
            assert_eq!(got[1], Incoming::Ping(b"p".to_vec()));
            assert_eq!(got[2], Incoming::Text("x".repeat(1000)));
            assert_eq!(got[3], Incoming::Close(Some(normal.clone())));
            assert!(d.is_idle());
            d.release();
            assert_eq!(d.buf.capacity(), 0, "no buffer held while idle");
        }
    }

    #[test]
    fn fragmented_messages_are_reassembled_with_control_frames_between() {
        let mut d = Decoder::new(100);
        d.feed(&client(false, op::TEXT, b"ab"));
        d.feed(&client(true, op::PING, b""));
        d.feed(&client(false, op::CONTINUATION, b"cd"));
        d.feed(&client(true, op::CONTINUATION, b"ef"));
        assert_eq!(d.next_message(), Ok(Some(Incoming::Ping(Vec::new()))));
        assert_eq!(d.next_message(), Ok(Some(Incoming::Text("abcdef".into()))));
        assert_eq!(d.next_message(), Ok(None));
        // The cap applies to the whole message.
        let mut d = Decoder::new(5);
        d.feed(&client(false, op::TEXT, b"abc"));
        d.feed(&client(true, op::CONTINUATION, b"def"));
        assert_eq!(d.next_message(), Err(WireError::TooBig));
    }

    #[test]
    fn malformed_frames_are_protocol_errors() {
        let cases: Vec<(Vec<u8>, WireError)> = vec![
            // Unmasked.
            (
                b"\x81\x02hi".to_vec(),
                WireError::Protocol("client frames must be masked"),
            ),
            // Reserved bit.
            (
                {
                    let mut f = client(true, op::TEXT, b"x");
                    f[0] |= 0x40;
                    f
                },
                WireError::Protocol("reserved bits set"),
            ),
            // Reserved opcode.
            (
                client(true, 0x3, b"x"),
                WireError::Protocol("reserved opcode"),
            ),
            // Fragmented control frame.
            (
                client(false, op::PING, b"x"),
                WireError::Protocol("fragmented or oversized control frame"),
            ),
            // Oversized control frame.
            (
                client(true, op::PING, &[0; 126]),
                WireError::Protocol("fragmented or oversized control frame"),
            ),
            // Continuation without a message.
            (
                client(true, op::CONTINUATION, b"x"),
                WireError::Protocol("continuation without a message"),
            ),
            // Not UTF-8.
            (client(true, op::TEXT, &[0xff, 0xfe]), WireError::NotUtf8),
        ];
        for (input, want) in cases {
            let mut d = Decoder::new(4096);
            d.feed(&input);
            assert_eq!(d.next_message(), Err(want), "{input:?}");
        }
        assert_eq!(WireError::TooBig.close_code(), 1009);
        assert_eq!(WireError::Protocol("x").close_code(), 1002);
        assert_eq!(WireError::NotUtf8.close_code(), 1007);
        // A new message inside a fragmented one.
        let mut d = Decoder::new(4096);
        d.feed(&client(false, op::TEXT, b"a"));
        d.feed(&client(true, op::TEXT, b"b"));
        assert!(matches!(d.next_message(), Err(WireError::Protocol(_))));
    }

    /// What the decoder makes of one client Close with this payload.
    fn read_close(payload: &[u8]) -> Result<Option<Incoming>, WireError> {
        let mut d = Decoder::new(4096);
        d.feed(&client(true, op::CLOSE, payload));
        d.next_message()
    }

    /// A Close payload: the code, then the reason's bytes.
    fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason);
        p
    }

    #[test]
    fn an_empty_close_is_read_without_a_code() {
        assert_eq!(read_close(&[]), Ok(Some(Incoming::Close(None))));
    }

    #[test]
    fn a_close_with_a_1_byte_payload_is_a_protocol_error() {
        let got = read_close(&[0x03]);
        assert_eq!(
            got,
            Err(WireError::Protocol("close frame with a 1-byte payload"))
        );
        assert_eq!(got.map(|_| ()).map_err(WireError::close_code), Err(1002));
    }

    #[test]
    fn close_codes_not_allowed_on_the_wire_are_protocol_errors() {
        // 999 (below 1000), 1005 (no status), 1006 (abnormal), 2999 (unassigned), and the other
        // codes only reported locally or unassigned.
        let refused = [
            0,
            999,
            1004,
            1005,
            1006,
            1015,
            1016,
            1100,
            2000,
            2999,
            5000,
            u16::MAX,
        ];
        for code in refused {
            let got = read_close(&close_payload(code, b""));
            assert_eq!(
                got,
                Err(WireError::Protocol("close code not allowed on the wire")),
                "code {code}"
            );
            // With a reason too.
            assert_eq!(read_close(&close_payload(code, b"bye")), got, "code {code}");
        }
    }

    #[test]
    fn close_codes_allowed_on_the_wire_are_read() {
        // The defined codes, 3000 (the first after the unassigned 2999) and 4999 (the last).
        let allowed = (1000..=1003)
            .chain(1007..=1014)
            .chain([3000, 3999, 4000, 4999]);
        for code in allowed {
            assert_eq!(
                read_close(&close_payload(code, b"")),
                Ok(Some(Incoming::Close(Some(CloseFrame {
                    code,
                    reason: String::new()
                })))),
                "code {code}"
            );
        }
        assert!(is_wire_close_code(3000) && !is_wire_close_code(2999));
        assert!(is_wire_close_code(4999) && !is_wire_close_code(5000));
    }

    #[test]
    fn a_close_reason_that_is_not_utf8_closes_with_1007() {
        // Invalid bytes, a broken sequence, an encoded surrogate (U+D800).
        for reason in [&[0xff, 0xfe][..], &[0xc3, 0x28], b"ok\xed\xa0\x80"] {
            let got = read_close(&close_payload(1000, reason));
            assert_eq!(got, Err(WireError::NotUtf8), "{reason:?}");
        }
        assert_eq!(WireError::NotUtf8.close_code(), 1007);
    }

    #[test]
    fn a_valid_code_and_reason_are_read_and_echoed() {
        let reason = "bye, h\u{e9}llo \u{1f44b}";
        assert_eq!(
            read_close(&close_payload(4001, reason.as_bytes())),
            Ok(Some(Incoming::Close(Some(CloseFrame {
                code: 4001,
                reason: reason.into()
            }))))
        );
        // The longest reason a control frame holds (123 bytes) is echoed whole.
        let long = close_payload(1000, "r".repeat(123).as_bytes());
        let Ok(Some(Incoming::Close(Some(frame)))) = read_close(&long) else {
            panic!("a 125-byte close is read");
        };
        assert_eq!(
            Prepared::close(frame.code, &frame.reason).payload(),
            &long[..]
        );
    }

    #[test]
    fn server_close_frames_never_carry_a_code_that_may_not_be_sent() {
        // 1005, 1006 and 1015 (and any other code not allowed on the wire) give an empty Close.
        for code in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
            assert_eq!(
                &Prepared::close(code, "reason").wire()[..],
                &[0x88, 0],
                "code {code}"
            );
        }
        assert_eq!(&Prepared::close_empty().wire()[..], &[0x88, 0]);
        // Every code the server closes with may be sent.
        use watchparty_core::protocol::close;
        for code in [
            close::GOING_AWAY,
            close::POLICY,
            close::TOO_BIG,
            close::INTERNAL,
            close::TOO_SLOW,
            close::UNKNOWN_SESSION,
            close::HEARTBEAT_TIMEOUT,
            close::SESSION_ENDED,
            close::REMOVED,
            WireError::TooBig.close_code(),
            WireError::Protocol("x").close_code(),
            WireError::NotUtf8.close_code(),
        ] {
            assert!(is_wire_close_code(code), "{code}");
            assert_eq!(Prepared::close(code, "").payload(), &code.to_be_bytes());
        }
    }

    #[test]
    fn an_oversized_frame_is_refused_and_skipped_without_buffering_it() {
        let mut d = Decoder::new(4096);
        let big = client(true, op::TEXT, &vec![b'x'; 100_000]);
        d.feed(&big[..5000]);
        assert_eq!(d.next_message(), Err(WireError::TooBig));
        // The rest of it is skipped as it arrives; what follows is read normally.
        for chunk in big[5000..].chunks(4096) {
            d.feed(chunk);
            assert!(d.buf.len() - d.start < 4096);
        }
        d.feed(&client(true, op::CLOSE, &1000u16.to_be_bytes()));
        assert_eq!(
            d.next_message(),
            Ok(Some(Incoming::Close(Some(CloseFrame {
                code: 1000,
                reason: String::new()
            }))))
        );
        // A 64-bit length that does not fit in memory is refused from its header alone.
        let mut d = Decoder::new(4096);
        let mut huge = vec![0x81, 0x80 | 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        d.feed(&huge);
        assert_eq!(d.next_message(), Err(WireError::TooBig));
    }
}
