//! A TCP relay that delays every chunk by a fixed time in each direction, and a new connection by a
//! round trip: the network between the sidecar and the AppLink API, a round trip of twice the
//! delay.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

pub struct Relay {
    pub addr: SocketAddr,
}

impl Relay {
    /// Relays connections to `upstream`, each byte `delay` late each way.
    pub async fn start(upstream: SocketAddr, delay: Duration) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    // TCP's own handshake costs a round trip too: what the client sends meanwhile
                    // waits in the socket.
                    tokio::time::sleep(delay * 2).await;
                    let Ok(outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    tokio::spawn(delayed(in_read, out_write, delay));
                    tokio::spawn(delayed(out_read, in_write, delay));
                });
            }
        });
        Relay { addr }
    }
}

/// Copies `from` to `to`, each chunk `delay` after it was read, in order; an end of stream is
/// passed on as late.
async fn delayed(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (chunks, mut due) = mpsc::unbounded_channel::<(Instant, Option<Vec<u8>>)>();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = from.read(&mut buffer).await.unwrap_or(0);
            let at = Instant::now() + delay;
            if read == 0 {
                let _ = chunks.send((at, None));
                return;
            }
            if chunks.send((at, Some(buffer[..read].to_vec()))).is_err() {
                return;
            }
        }
    });
    while let Some((at, chunk)) = due.recv().await {
        tokio::time::sleep_until(at).await;
        match chunk {
            Some(bytes) => {
                if to.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            None => {
                let _ = to.shutdown().await;
                return;
            }
        }
    }
}
