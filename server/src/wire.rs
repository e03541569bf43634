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

    /// A close frame with a code and a reason (cut to fit a control frame).
    pub fn close(code: u16, reason: &str) -> Self {
        let mut cut = reason.len().min(MAX_CONTROL - 2);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut payload = Vec::with_capacity(2 + cut);
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(&reason.as_bytes()[..cut]);
        Self::new(op::CLOSE, &payload)
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
    /// A close frame, with its code if it had one.
    Close(Option<u16>),
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
    /// A text message that is not UTF-8 (close 1007).
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
                op::CLOSE => {
                    let code =
                        (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    return Ok(Some(Incoming::Close(code)));
                }
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
            assert_eq!(got[3], Incoming::Close(Some(1000)));
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
        assert_eq!(d.next_message(), Ok(Some(Incoming::Close(Some(1000)))));
        // A 64-bit length that does not fit in memory is refused from its header alone.
        let mut d = Decoder::new(4096);
        let mut huge = vec![0x81, 0x80 | 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        d.feed(&huge);
        assert_eq!(d.next_message(), Err(WireError::TooBig));
    }
}
