//! Kafka framing: `[i32 size][size bytes]`, request header prefix, response encoding.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ResponseHeader;
use kafka_protocol::protocol::Encodable;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("request of {bytes} bytes exceeds socket.request.max.bytes = {max}")]
    TooLarge { bytes: usize, max: usize },
    #[error("negative frame size {0}")]
    NegativeSize(i32),
    #[error("request of {0} bytes is shorter than a request header")]
    TooShortForHeader(usize),
    #[error("cannot encode response: {0}")]
    Encode(String),
    #[error("request header's client_id is malformed: {0}")]
    BadClientId(&'static str),
}

/// The fields every request header version starts with: enough to answer any request, even one
/// whose API key, version or body this broker cannot decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderPrefix {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

/// Bytes of the size prefix.
pub const SIZE_BYTES: usize = 4;
/// Bytes of [`HeaderPrefix`].
pub const HEADER_PREFIX_BYTES: usize = 8;

/// How much room to make for a frame that has not fully arrived yet (see [`split_frame`]).
pub const RESERVE_CHUNK_BYTES: usize = 256 * 1024;

/// Splits the next complete frame off the front of `buf`. `Ok(None)` means "need more bytes".
/// The declared size is checked against `max_bytes` as soon as its 4 bytes are in, so a client
/// cannot make the broker reserve memory it never sends (compare CVE-2022-34917).
pub fn split_frame(buf: &mut BytesMut, max_bytes: usize) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < SIZE_BYTES {
        return Ok(None);
    }
    let declared = i32::from_be_bytes(buf[..SIZE_BYTES].try_into().expect("4 bytes"));
    let size = usize::try_from(declared).map_err(|_| FrameError::NegativeSize(declared))?;
    if size > max_bytes {
        return Err(FrameError::TooLarge {
            bytes: size,
            max: max_bytes,
        });
    }
    if buf.len() < SIZE_BYTES + size {
        // Room for the next chunk only, not the whole declared size: a client that declares a
        // large frame and sends nothing more holds at most one chunk, not the frame's size.
        buf.reserve((SIZE_BYTES + size - buf.len()).min(RESERVE_CHUNK_BYTES));
        return Ok(None);
    }
    buf.advance(SIZE_BYTES);
    Ok(Some(buf.split_to(size).freeze()))
}

/// Reads the api key, api version and correlation id without decoding anything else.
pub fn peek_header(frame: &[u8]) -> Result<HeaderPrefix, FrameError> {
    if frame.len() < HEADER_PREFIX_BYTES {
        return Err(FrameError::TooShortForHeader(frame.len()));
    }
    let mut b = &frame[..HEADER_PREFIX_BYTES];
    Ok(HeaderPrefix {
        api_key: b.get_i16(),
        api_version: b.get_i16(),
        correlation_id: b.get_i32(),
    })
}

/// Reads the request header's `client_id` (a nullable non-compact STRING right after the
/// prefix, in header v1 and v2 alike; null reads as `""`, as Kafka's quota tags do) without
/// decoding the rest. For the client quotas only: header v0 (ControlledShutdown v0, which Rill
/// does not serve) has no client_id, and this would read the body instead.
pub fn peek_client_id(frame: &[u8]) -> Result<&str, FrameError> {
    let rest = frame
        .get(HEADER_PREFIX_BYTES..)
        .ok_or(FrameError::TooShortForHeader(frame.len()))?;
    let (length, rest) = match rest {
        [high, low, rest @ ..] => (i16::from_be_bytes([*high, *low]), rest),
        _ => return Err(FrameError::TooShortForHeader(frame.len())),
    };
    let length = match length {
        -1 => return Ok(""),
        length => {
            usize::try_from(length).map_err(|_| FrameError::BadClientId("negative length"))?
        }
    };
    let bytes = rest
        .get(..length)
        .ok_or(FrameError::BadClientId("longer than the frame"))?;
    std::str::from_utf8(bytes).map_err(|_| FrameError::BadClientId("not UTF-8"))
}

/// Encodes a whole response frame: size, response header (v0 or v1), body at `version`.
pub fn encode_response<R: Encodable>(
    correlation_id: i32,
    header_version: i16,
    body: &R,
    version: i16,
) -> Result<Bytes, FrameError> {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let encode_err = |e: anyhow::Error| FrameError::Encode(e.to_string());
    let size = header.compute_size(header_version).map_err(encode_err)?
        + body.compute_size(version).map_err(encode_err)?;
    let mut out = BytesMut::with_capacity(SIZE_BYTES + size);
    out.put_i32(size as i32);
    header
        .encode(&mut out, header_version)
        .map_err(encode_err)?;
    body.encode(&mut out, version).map_err(encode_err)?;
    debug_assert_eq!(out.len(), SIZE_BYTES + size);
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as i32).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn splits_complete_frames_and_waits_for_partial_ones() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&frame(b"hello"));
        buf.extend_from_slice(&frame(b"world")[..6]);
        assert_eq!(
            split_frame(&mut buf, 100).unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(
            split_frame(&mut buf, 100).unwrap(),
            None,
            "declared 5, has 2"
        );
        buf.extend_from_slice(b"rl");
        assert_eq!(
            split_frame(&mut buf, 100).unwrap(),
            None,
            "declared 5, has 4"
        );
        buf.extend_from_slice(b"d");
        assert_eq!(
            split_frame(&mut buf, 100).unwrap().as_deref(),
            Some(&b"world"[..])
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_and_negative_sizes_are_refused_before_the_body_arrives() {
        let mut buf = BytesMut::from(&(1_000_000i32).to_be_bytes()[..]);
        assert_eq!(
            split_frame(&mut buf, 1000),
            Err(FrameError::TooLarge {
                bytes: 1_000_000,
                max: 1000
            })
        );
        assert!(
            buf.capacity() < 1000,
            "nothing reserved for the oversized frame"
        );
        let mut buf = BytesMut::from(&(-5i32).to_be_bytes()[..]);
        assert_eq!(
            split_frame(&mut buf, 1000),
            Err(FrameError::NegativeSize(-5))
        );
    }

    #[test]
    fn a_large_declared_frame_reserves_one_chunk_until_its_bytes_arrive() {
        let mut buf = BytesMut::from(&(50_000_000i32).to_be_bytes()[..]);
        assert_eq!(split_frame(&mut buf, 100_000_000), Ok(None));
        assert!(
            buf.capacity() <= RESERVE_CHUNK_BYTES + 64,
            "reserved {}",
            buf.capacity()
        );
    }

    #[test]
    fn header_prefix() {
        let bytes = [0, 18, 0, 3, 0, 0, 1, 2, 0xff];
        let prefix = peek_header(&bytes).unwrap();
        assert_eq!(
            prefix,
            HeaderPrefix {
                api_key: 18,
                api_version: 3,
                correlation_id: 258
            }
        );
        assert_eq!(
            peek_header(&bytes[..7]),
            Err(FrameError::TooShortForHeader(7))
        );
    }

    /// A request header (after the size) with `client_id`, at header version `version`.
    fn header(client_id: Option<&str>, version: i16) -> Vec<u8> {
        use kafka_protocol::messages::RequestHeader;
        use kafka_protocol::protocol::StrBytes;
        let header = RequestHeader::default()
            .with_request_api_key(0)
            .with_request_api_version(9)
            .with_correlation_id(7)
            .with_client_id(client_id.map(|id| StrBytes::from_string(id.to_string())));
        let mut out = BytesMut::new();
        header.encode(&mut out, version).unwrap();
        out.extend_from_slice(b"body");
        out.to_vec()
    }

    #[test]
    fn the_client_id_is_read_from_headers_v1_and_v2() {
        for version in [1, 2] {
            assert_eq!(
                peek_client_id(&header(Some("rdkafka"), version)),
                Ok("rdkafka")
            );
            assert_eq!(peek_client_id(&header(Some(""), version)), Ok(""));
            assert_eq!(peek_client_id(&header(None, version)), Ok("")); // null
            assert_eq!(peek_client_id(&header(Some("é-ü"), version)), Ok("é-ü"));
        }
    }

    #[test]
    fn a_short_or_garbled_client_id_is_an_error_not_a_panic() {
        let whole = header(Some("client"), 1);
        for cut in 0..HEADER_PREFIX_BYTES + 2 {
            assert_eq!(
                peek_client_id(&whole[..cut]),
                Err(FrameError::TooShortForHeader(cut))
            );
        }
        for cut in HEADER_PREFIX_BYTES + 2..HEADER_PREFIX_BYTES + 2 + 6 {
            assert_eq!(
                peek_client_id(&whole[..cut]),
                Err(FrameError::BadClientId("longer than the frame"))
            );
        }
        let mut negative = whole.clone();
        negative[8..10].copy_from_slice(&(-2i16).to_be_bytes());
        assert_eq!(
            peek_client_id(&negative),
            Err(FrameError::BadClientId("negative length"))
        );
        let mut garbled = whole;
        garbled[10] = 0xff;
        assert_eq!(
            peek_client_id(&garbled),
            Err(FrameError::BadClientId("not UTF-8"))
        );
        // Any bytes at all: an answer, never a panic.
        let mut seed = 0x1234_5678u32;
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = peek_client_id(&bytes);
        }
    }
}
