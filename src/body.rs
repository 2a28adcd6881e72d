//! The one body type that flows through the sidecar in both directions.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};

/// A streamed or buffered body; errors are the transport errors of the side it came from.
pub(crate) type MeshBody = UnsyncBoxBody<Bytes, hyper::Error>;

/// A body made of bytes the sidecar already has.
pub(crate) fn full(bytes: impl Into<Bytes>) -> MeshBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}
