//! Inter-node transport: postcard frames over TCP.
//!
//! Frame: `[u32 BE length of the rest][u8 FRAME_VERSION][postcard(Frame)]`. The length is
//! checked against [`PEER_FRAME_BYTES_MAX`] before anything is allocated; the receive buffer grows with the
//! bytes that arrive, never to the declared size up front; an unknown version or an
//! undecodable body closes that connection only. Outbound links reconnect with capped exponential
//! backoff; frames sent while a link is down wait in a bounded queue and are dropped when it is
//! full (inter-node protocols tolerate loss and retry).
//!
//! Every outbound link opens with a [`Hello`]: the sender's node id and where it listens. A
//! node that hears from a peer it was not configured with (an observer of the controller
//! quorum: a broker-only node the voters answer) links back to that address; configured peers
//! are never redirected by a hello. A connection's messages must come from the node its hello
//! named (else it is closed): a connection cannot speak for another node than it said.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};

use super::node::Router;
use crate::actor::cell::Kind;
use crate::actor::{Addr, NodeId, Wire};
use crate::limits::{PEER_FRAME_BYTES_MAX, PEER_RECONNECT_MS_MAX, PEER_RECONNECT_MS_MIN};

/// Bump when the envelope or any inter-node message changes incompatibly.
/// 2: the envelope carries the message's [`Kind`] (plain message, call, reply to a call).
/// 3: a frame is a [`Frame`]: a link's [`Hello`] or an envelope.
/// 4: a follower's fetch carries its synced offset; the follower's sync notice.
pub const FRAME_VERSION: u8 = 4;

/// What travels in one frame.
#[derive(Debug, Serialize, Deserialize)]
pub enum Frame<M> {
    /// The first frame of every link.
    Hello(Hello),
    Message(Envelope<M>),
}

/// Who opened a link, and where it listens for links to it (an unspecified address: at the
/// link's remote address, on this port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub node: NodeId,
    pub listen: SocketAddr,
}

impl Hello {
    /// Where to reach the sender of this hello, which arrived over a link from `remote`.
    pub fn reach(&self, remote: SocketAddr) -> SocketAddr {
        if self.listen.ip().is_unspecified() {
            SocketAddr::new(remote.ip(), self.listen.port())
        } else {
            self.listen
        }
    }
}

/// A message between two actors on different nodes.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<M> {
    pub from: Addr,
    pub to: Addr,
    pub kind: Kind,
    pub msg: M,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {bytes} bytes exceeds the {max}-byte limit")]
    TooLarge { bytes: usize, max: usize },
    #[error("unknown frame version {0} (this node speaks {FRAME_VERSION})")]
    UnknownVersion(u8),
    #[error("empty frame")]
    Empty,
    #[error("undecodable frame body: {0}")]
    Decode(#[from] postcard::Error),
}

/// Encodes one frame, length prefix included.
pub fn encode_frame<M: Serialize>(body: &Frame<M>) -> Result<Vec<u8>, FrameError> {
    let mut frame = vec![0u8; 5];
    frame[4] = FRAME_VERSION;
    let mut frame = postcard::to_extend(body, frame)?;
    let rest_bytes = frame.len() - 4;
    if rest_bytes > PEER_FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge {
            bytes: rest_bytes,
            max: PEER_FRAME_BYTES_MAX,
        });
    }
    frame[..4].copy_from_slice(&(rest_bytes as u32).to_be_bytes());
    Ok(frame)
}

/// Decodes what follows the length prefix: version byte, then the frame.
pub fn decode_frame_body<M: Wire>(body: &[u8]) -> Result<Frame<M>, FrameError> {
    let (&version, rest) = body.split_first().ok_or(FrameError::Empty)?;
    if version != FRAME_VERSION {
        return Err(FrameError::UnknownVersion(version));
    }
    Ok(postcard::from_bytes(rest)?)
}

/// The first allocation for an inbound frame; the buffer grows (doubling) only as bytes arrive.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Reads one frame body. `Ok(None)` on a clean end of stream between frames.
async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<Vec<u8>>, FrameReadError> {
    let mut len_buf = [0u8; 4];
    match reader.read_exact(&mut len_buf).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let rest_bytes = u32::from_be_bytes(len_buf) as usize;
    if rest_bytes > PEER_FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge {
            bytes: rest_bytes,
            max: PEER_FRAME_BYTES_MAX,
        }
        .into());
    }
    // Grow the buffer as bytes arrive instead of sizing it from the declared length: a peer
    // (or anyone reaching the port) that declares 64 MiB and sends nothing holds nothing.
    let mut body = Vec::with_capacity(rest_bytes.min(READ_CHUNK_BYTES));
    let read = (&mut *reader)
        .take(rest_bytes as u64)
        .read_to_end(&mut body)
        .await?;
    if read < rest_bytes {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("frame declared {rest_bytes} bytes, the stream ended after {read}"),
        )
        .into());
    }
    Ok(Some(body))
}

#[derive(Debug, thiserror::Error)]
enum FrameReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// Accepts peer connections forever, one reader task per connection.
pub(crate) async fn accept_loop<M: Wire>(listener: TcpListener, router: Arc<Router<M>>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                router.peer_connected();
                // Spawned through the router so that shutting the node down closes it too.
                router.spawn(read_loop(stream, remote, router.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "peer accept failed");
                tokio::time::sleep(Duration::from_millis(PEER_RECONNECT_MS_MIN)).await;
            }
        }
    }
}

async fn read_loop<M: Wire>(stream: TcpStream, remote: SocketAddr, router: Arc<Router<M>>) {
    let _ = stream.set_nodelay(true);
    let mut reader = tokio::io::BufReader::new(stream);
    // The node this connection said it is: its messages must come from that node.
    let mut said: Option<NodeId> = None;
    loop {
        let body = match read_frame(&mut reader).await {
            Ok(Some(body)) => body,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(%remote, error = %e, "closing peer connection");
                return;
            }
        };
        match decode_frame_body::<M>(&body) {
            Ok(Frame::Message(env)) if said == Some(env.from.node) => {
                router.deliver_inbound(env).await
            }
            Ok(Frame::Message(env)) => {
                tracing::warn!(%remote, from = ?env.from, ?said, "closing peer connection: a message not from the node it said hello as");
                return;
            }
            Ok(Frame::Hello(hello)) if said.is_some_and(|node| node != hello.node) => {
                tracing::warn!(%remote, ?said, again = %hello.node, "closing peer connection: a second hello as another node");
                return;
            }
            Ok(Frame::Hello(hello)) => {
                said = Some(hello.node);
                router.learn_peer(hello, remote)
            }
            Err(e) => {
                tracing::warn!(%remote, error = %e, "closing peer connection on a bad frame");
                return;
            }
        }
    }
}

/// Owns the outbound connection to one peer: connects, writes queued frames, reconnects. An
/// inbound connection (`wake`) ends a backoff at once: a restarted peer is reached as soon as
/// it connects to this node, not up to [`PEER_RECONNECT_MS_MAX`] later.
pub(crate) async fn peer_link(
    peer: NodeId,
    addr: SocketAddr,
    hello: Arc<[u8]>,
    mut queue: mpsc::Receiver<Vec<u8>>,
    wake: Arc<Notify>,
) {
    let mut backoff_ms = PEER_RECONNECT_MS_MIN;
    loop {
        let stream = match TcpStream::connect(addr).await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!(%peer, %addr, error = %e, backoff_ms, "peer connect failed");
                tokio::select! {
                    biased;
                    _ = wake.notified() => backoff_ms = PEER_RECONNECT_MS_MIN,
                    _ = tokio::time::sleep(Duration::from_millis(backoff_ms)) => {
                        backoff_ms = (backoff_ms * 2).min(PEER_RECONNECT_MS_MAX);
                    }
                }
                continue;
            }
        };
        backoff_ms = PEER_RECONNECT_MS_MIN;
        let _ = stream.set_nodelay(true);
        if write_until_error(stream, &hello, &mut queue).await.is_ok() {
            return; // the node is shutting down: the queue closed
        }
    }
}

/// Writes the hello, then the queued frames, until the queue closes (`Ok`) or the link fails.
/// The peer never writes on this connection, so a read that returns is the peer gone (it
/// closed or restarted): the link reconnects at once and says hello again, even with nothing
/// queued. Without it a peer that restarted would not learn this node until this node next
/// wrote to it, and a node it learns only from hellos (a broker that is not a voter) would stay
/// unreachable from it: a follower could not fetch from such a leader.
async fn write_until_error<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    hello: &[u8],
    queue: &mut mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<()> {
    let (mut reader, mut writer) = tokio::io::split(stream);
    writer.write_all(hello).await?;
    writer.flush().await?;
    let mut probe = [0u8; 1];
    loop {
        tokio::select! {
            biased;
            frame = queue.recv() => {
                let Some(frame) = frame else { return Ok(()) };
                writer.write_all(&frame).await?;
                // Coalesce whatever else is already queued before flushing.
                while let Ok(frame) = queue.try_recv() {
                    writer.write_all(&frame).await?;
                }
                writer.flush().await?;
            }
            read = reader.read(&mut probe) => {
                read?;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the peer closed the link",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::{ActorId, CallId};

    fn addr(node: u64) -> Addr {
        Addr {
            node: NodeId(node),
            actor: ActorId(7),
        }
    }

    #[test]
    fn frame_roundtrip() {
        let env = Envelope {
            from: addr(1),
            to: addr(2),
            kind: Kind::Reply { call: CallId(9) },
            msg: (42u32, "hi".to_string()),
        };
        let frame = encode_frame(&Frame::Message(env)).unwrap();
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        let Frame::Message(back) = decode_frame_body::<(u32, String)>(&frame[4..]).unwrap() else {
            panic!("a message comes back a message");
        };
        assert_eq!(
            (back.from, back.to, back.kind, back.msg),
            (
                addr(1),
                addr(2),
                Kind::Reply { call: CallId(9) },
                (42, "hi".to_string())
            )
        );
    }

    #[test]
    fn unknown_version_and_garbage_are_errors() {
        let env = Envelope {
            from: addr(1),
            to: addr(2),
            kind: Kind::Msg,
            msg: 5u8,
        };
        let mut frame = encode_frame(&Frame::Message(env)).unwrap();
        frame[4] = FRAME_VERSION + 1;
        assert!(matches!(
            decode_frame_body::<u8>(&frame[4..]),
            Err(FrameError::UnknownVersion(_))
        ));
        assert!(matches!(
            decode_frame_body::<u8>(&[]),
            Err(FrameError::Empty)
        ));
        assert!(matches!(
            decode_frame_body::<String>(&[FRAME_VERSION, 0xff]),
            Err(FrameError::Decode(_))
        ));
    }

    #[test]
    fn a_hello_names_its_node_and_where_to_reach_it() {
        let hello = Hello {
            node: NodeId(4),
            listen: "0.0.0.0:9094".parse().unwrap(),
        };
        let frame = encode_frame::<u8>(&Frame::Hello(hello)).unwrap();
        let Frame::Hello(back) = decode_frame_body::<u8>(&frame[4..]).unwrap() else {
            panic!("a hello comes back a hello");
        };
        assert_eq!(back, hello);
        // A wildcard listener is reached at the address the link came from.
        let remote = "127.0.0.4:50123".parse().unwrap();
        assert_eq!(back.reach(remote), "127.0.0.4:9094".parse().unwrap());
        let named = Hello {
            listen: "127.0.0.9:9094".parse().unwrap(),
            ..hello
        };
        assert_eq!(named.reach(remote), named.listen);
    }

    #[tokio::test]
    async fn a_frame_declaring_more_than_it_sends_is_an_error_and_complete_frames_read() {
        let mut short = 60_000_000u32.to_be_bytes().to_vec();
        short.extend_from_slice(b"0123456789");
        let err = read_frame(&mut &short[..]).await.unwrap_err();
        assert!(err.to_string().contains("ended after 10"), "{err}");

        let mut two = 3u32.to_be_bytes().to_vec();
        two.extend_from_slice(b"abc");
        two.extend_from_slice(&0u32.to_be_bytes());
        let mut reader = &two[..];
        assert_eq!(
            read_frame(&mut reader).await.unwrap(),
            Some(b"abc".to_vec())
        );
        assert_eq!(read_frame(&mut reader).await.unwrap(), Some(Vec::new()));
        assert_eq!(read_frame(&mut reader).await.unwrap(), None);
    }
}
