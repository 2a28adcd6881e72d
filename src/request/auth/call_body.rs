//! The body of one AppLink API call: handed to the connection 64 KiB at a time, and cut off once
//! the call's deadline has passed. A caller that gave up must not keep the connection busy writing
//! a large Data Action Target call the API will never answer in time: an error from the body makes
//! the client close the connection, so after the deadline only what was already queued is sent.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

/// The most handed over at once.
const SLICE: usize = 64 * 1024;

pub(crate) struct CallBody {
    rest: Bytes,
    deadline: Instant,
}

impl CallBody {
    pub(crate) fn new(body: Bytes, deadline: Instant) -> CallBody {
        CallBody {
            rest: body,
            deadline,
        }
    }
}

/// The call's deadline passed while its body was being written.
#[derive(Debug)]
pub(crate) struct DeadlinePassed;

impl std::fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call's deadline passed while its body was being written")
    }
}

impl std::error::Error for DeadlinePassed {}

impl Body for CallBody {
    type Data = Bytes;
    type Error = DeadlinePassed;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, DeadlinePassed>>> {
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        if Instant::now() >= self.deadline {
            return Poll::Ready(Some(Err(DeadlinePassed)));
        }
        let slice = self.rest.len().min(SLICE);
        let data = self.rest.split_to(slice);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::time::Duration;

    #[tokio::test]
    async fn slices_the_body_and_stops_at_the_deadline() {
        let bytes = Bytes::from(vec![7u8; SLICE * 2 + 10]);
        let body = CallBody::new(bytes.clone(), Instant::now() + Duration::from_secs(60));
        assert_eq!(body.size_hint().exact(), Some(bytes.len() as u64));
        assert_eq!(body.collect().await.unwrap().to_bytes(), bytes);

        let mut late = CallBody::new(bytes, Instant::now());
        assert!(late.frame().await.unwrap().is_err());
        let mut empty = CallBody::new(Bytes::new(), Instant::now());
        assert!(empty.is_end_stream() && empty.frame().await.is_none());
    }
}
