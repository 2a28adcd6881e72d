//! `OTEL_TRACES_SAMPLER`'s decision for one request, by the specification's samplers: the caller's
//! decision for a parent-based sampler when it sent a valid `traceparent`, else the root's.

use crate::config::{Root, Sampler};
use crate::telemetry::TraceContext;

/// Whether `trace`'s spans are recorded and exported (and the app is told so in its flags).
pub(super) fn sampled(sampler: Sampler, trace: &TraceContext) -> bool {
    let by_ratio = |ratio| by_trace_id(ratio, trace.trace_id_bytes());
    match sampler {
        Sampler::AlwaysOn => true,
        Sampler::AlwaysOff => false,
        Sampler::TraceIdRatio(ratio) => by_ratio(ratio),
        Sampler::ParentBased(_) if trace.parent_id_bytes().is_some() => trace.sampled(),
        Sampler::ParentBased(Root::AlwaysOn) => true,
        Sampler::ParentBased(Root::AlwaysOff) => false,
        Sampler::ParentBased(Root::TraceIdRatio(ratio)) => by_ratio(ratio),
    }
}

/// The ratio sampler of the Rust SDK: the trace id's low 63 bits below `ratio` of their range, so
/// every service using it agrees on the same trace.
fn by_trace_id(ratio: f64, trace_id: [u8; 16]) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    // Both sides are below 2^63, where an f64 → u64 conversion is exact enough for a ratio.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    (u64::from_be_bytes(low) >> 1) < bound
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::*;
    use crate::telemetry::TRACEPARENT;

    fn continued(flags: &str) -> TraceContext {
        let mut headers = HeaderMap::new();
        let value = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}");
        headers.insert(TRACEPARENT, HeaderValue::from_str(&value).unwrap());
        TraceContext::continue_from(&headers).unwrap()
    }

    #[test]
    fn parent_based_follows_the_caller_and_decides_for_new_traces() {
        let default = Sampler::ParentBased(Root::AlwaysOn);
        assert!(sampled(default, &continued("01")));
        assert!(!sampled(default, &continued("00")));
        assert!(sampled(default, &TraceContext::start_root()));
        let off = Sampler::ParentBased(Root::AlwaysOff);
        assert!(sampled(off, &continued("01")));
        assert!(!sampled(off, &TraceContext::start_root()));
    }

    #[test]
    fn always_and_ratio_ignore_the_caller() {
        assert!(sampled(Sampler::AlwaysOn, &continued("00")));
        assert!(!sampled(Sampler::AlwaysOff, &continued("01")));
        assert!(!sampled(Sampler::TraceIdRatio(0.0), &continued("01")));
        assert!(sampled(Sampler::TraceIdRatio(1.0), &continued("00")));
    }

    #[test]
    fn a_ratio_keeps_about_its_share_of_traces() {
        let kept = (0..4_000)
            .filter(|_| {
                sampled(
                    Sampler::ParentBased(Root::TraceIdRatio(0.25)),
                    &TraceContext::start_root(),
                )
            })
            .count();
        // 1,000 expected; the bounds are 8 standard deviations away.
        assert!((780..=1_220).contains(&kept), "{kept} of 4000");
    }
}
