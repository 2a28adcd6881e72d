//! W3C Trace Context (docs/behaviour.md §8.1): a request's `traceparent`, read by the
//! specification's rules, and the one the app receives, naming the sidecar's own span as its
//! parent. A value that breaks the rules is treated as absent, never refused.

use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};

/// The header's name (lower case, as HTTP/2 sends it); a constant, so no request parses it.
pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// Vendors' trace data, passed as sent with a continued trace.
pub(crate) const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// A trace continued through the sidecar: the caller's trace and span, and the sidecar's span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TraceContext {
    trace_id: [u8; 16],
    /// The caller's span: the sidecar's span's parent; `None` for a trace the sidecar started.
    parent_id: Option<[u8; 8]>,
    /// The sidecar's own span: the app's span's parent.
    span_id: [u8; 8],
    flags: u8,
}

/// The `sampled` bit of the trace flags.
const SAMPLED: u8 = 0x01;

impl TraceContext {
    /// Continues the trace of a request's one valid `traceparent`, with a new span for the
    /// sidecar; `None` when there is none, more than one, or it breaks the rules.
    pub(crate) fn continue_from(headers: &HeaderMap) -> Option<TraceContext> {
        let mut values = headers.get_all(&TRACEPARENT).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        let (trace_id, parent_id, flags) = parse(value.as_bytes())?;
        Some(TraceContext {
            trace_id,
            parent_id: Some(parent_id),
            span_id: new_span_id(),
            flags,
        })
    }

    /// A new trace with the sidecar's span as its root (when trace export is on and the request
    /// carried no valid `traceparent`); not sampled until [`TraceContext::set_sampled`] says so.
    pub(crate) fn start_root() -> TraceContext {
        let trace_id = loop {
            let id: u128 = rand::random();
            if id != 0 {
                break id.to_be_bytes();
            }
        };
        TraceContext {
            trace_id,
            parent_id: None,
            span_id: new_span_id(),
            flags: 0,
        }
    }

    /// Whether the caller (or the sampler, once it has decided) samples this trace.
    pub(crate) fn sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }

    /// The sampler's decision, passed on to the app in the flags.
    pub(crate) fn set_sampled(&mut self, sampled: bool) {
        self.flags = (self.flags & !SAMPLED) | u8::from(sampled);
    }

    /// The trace id's bytes.
    pub(crate) fn trace_id_bytes(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The sidecar's span id's bytes.
    pub(crate) fn span_id_bytes(&self) -> [u8; 8] {
        self.span_id
    }

    /// The caller's span id's bytes; `None` for a trace the sidecar started.
    pub(crate) fn parent_id_bytes(&self) -> Option<[u8; 8]> {
        self.parent_id
    }

    /// The `traceparent` the app receives: this trace, the sidecar's span as parent, the caller's
    /// flags, at version 00 (the one this sidecar speaks).
    pub(crate) fn for_the_app(&self) -> HeaderValue {
        let mut text = *b"00-00000000000000000000000000000000-0000000000000000-00";
        hex_into(&mut text[3..35], &self.trace_id);
        hex_into(&mut text[36..52], &self.span_id);
        // Only the flags version 00 defines (sampled, and Level 2's random); the rest are zero.
        hex_into(&mut text[53..55], &[self.flags & 0x03]);
        // Only hex digits and dashes: always a valid header value.
        HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The trace id, as 32 lowercase hex digits (for the logs).
    pub(crate) fn trace_id(&self) -> Hex<'_> {
        Hex(&self.trace_id)
    }

    /// The sidecar's span id, as 16 lowercase hex digits (for the logs).
    pub(crate) fn span_id(&self) -> Hex<'_> {
        Hex(&self.span_id)
    }

    /// The caller's span id, as 16 lowercase hex digits.
    #[cfg(test)]
    pub(crate) fn parent_id(&self) -> Option<Hex<'_>> {
        self.parent_id.as_ref().map(|id| Hex(id))
    }
}

/// Bytes shown as lowercase hex.
pub(crate) struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // At most a trace id: 16 bytes, 32 digits, written at once (a `{:02x}` per byte costs
        // ten times as much on every traced request).
        let mut digits = [0u8; 32];
        let digits = &mut digits[..self.0.len() * 2];
        hex_into(digits, self.0);
        f.write_str(std::str::from_utf8(digits).map_err(|_| fmt::Error)?)
    }
}

/// Writes `bytes` as lowercase hex into `out`, two digits a byte (`out` is twice as long).
fn hex_into(out: &mut [u8], bytes: &[u8]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
        pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
    }
}

/// A random, non-zero span id.
pub(crate) fn new_span_id() -> [u8; 8] {
    loop {
        let id: u64 = rand::random();
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

/// `version-traceid-parentid-flags` by the specification's rules: lowercase hex fields of 2, 32,
/// 16 and 2 digits; version `ff` invalid; trace and parent ids not all zeros. Version 00 is exactly
/// 55 characters; a later version may carry more after a further `-`, which is ignored.
fn parse(value: &[u8]) -> Option<([u8; 16], [u8; 8], u8)> {
    if value.len() < 55 {
        return None;
    }
    let version = hex_byte(&value[0..2])?;
    if version == 0xff || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    match (version, value.len()) {
        (0, 55) => {}
        (0, _) => return None,
        (_, 55) => {}
        (_, _) if value[55] == b'-' => {}
        _ => return None,
    }
    let mut trace_id = [0u8; 16];
    for (i, byte) in trace_id.iter_mut().enumerate() {
        *byte = hex_byte(&value[3 + 2 * i..5 + 2 * i])?;
    }
    let mut parent_id = [0u8; 8];
    for (i, byte) in parent_id.iter_mut().enumerate() {
        *byte = hex_byte(&value[36 + 2 * i..38 + 2 * i])?;
    }
    let flags = hex_byte(&value[53..55])?;
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some((trace_id, parent_id, flags))
}

/// Two lowercase hex digits (the specification allows no capitals).
fn hex_byte(digits: &[u8]) -> Option<u8> {
    let digit = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    Some((digit(digits[0])? << 4) | digit(digits[1])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(TRACEPARENT, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_valid_traceparent_is_continued_with_a_span_of_the_sidecars() {
        let context = TraceContext::continue_from(&headers(&[VALID])).unwrap();
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(context.parent_id().unwrap().to_string(), "00f067aa0ba902b7");
        let sent = context.for_the_app();
        let sent = sent.to_str().unwrap();
        assert_eq!(sent.len(), 55);
        assert!(
            sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{sent}"
        );
        assert!(sent.ends_with("-01"), "{sent}");
        assert_eq!(&sent[36..52], context.span_id().to_string());
        assert_ne!(&sent[36..52], "00f067aa0ba902b7");
        assert_ne!(&sent[36..52], "0000000000000000");
        // A new span each time.
        let again = TraceContext::continue_from(&headers(&[VALID])).unwrap();
        assert_ne!(again.span_id().to_string(), context.span_id().to_string());
    }

    #[test]
    fn the_callers_flags_are_kept_but_not_reserved_bits() {
        let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        let context = TraceContext::continue_from(&headers(&[unsampled])).unwrap();
        assert!(context.for_the_app().to_str().unwrap().ends_with("-00"));
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff";
        let context = TraceContext::continue_from(&headers(&[later])).unwrap();
        assert!(context.for_the_app().to_str().unwrap().ends_with("-03"));
    }

    #[test]
    fn a_later_version_is_read_and_answered_at_version_00() {
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next";
        let context = TraceContext::continue_from(&headers(&[later])).unwrap();
        assert!(
            context
                .for_the_app()
                .to_str()
                .unwrap()
                .starts_with("00-4bf9")
        );
    }

    #[test]
    fn values_that_break_the_rules_are_absent() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(
                TraceContext::continue_from(&headers(&[bad])),
                None,
                "{bad:?}"
            );
        }
        assert_eq!(TraceContext::continue_from(&headers(&[])), None);
        assert_eq!(
            TraceContext::continue_from(&headers(&[VALID, VALID])),
            None,
            "two traceparent headers"
        );
    }

    #[test]
    fn no_input_panics() {
        // Every length around the fixed one, and every byte in every position of a valid value.
        for len in 0..70 {
            let value = vec![b'a'; len];
            let _ = parse(&value);
        }
        for at in 0..VALID.len() {
            for byte in 0..=255u8 {
                let mut value = VALID.as_bytes().to_vec();
                value[at] = byte;
                let _ = parse(&value);
            }
        }
    }
}
