//! The `mesh.limits` section: sizes and counts, and the body budget's floor
//! (docs/behaviour.md §4.4, §11).

use super::defaults;
use super::file::FileConfig;
use super::file_values::{file_err, file_value};
use super::values::parse_size;
use super::{ConfigError, Limits};

/// `dataActionTargetBody` is at most 1 GiB, and `bufferedBodies` holds at least one body while it is
/// checked: twice, as it came and JSON-escaped in the API call, beside the call's other fields
/// (from the head: up to six times `headerBytes`, escaped).
fn check_body_budget(
    file: &FileConfig,
    body: u64,
    budget: u64,
    header_bytes: u64,
) -> Result<(), ConfigError> {
    if body > 1 << 30 {
        return file_err(
            file,
            "mesh.limits.dataActionTargetBody",
            "must be at most 1GiB",
        );
    }
    let one_body = body
        .saturating_mul(2)
        .saturating_add(header_bytes.saturating_mul(8));
    if budget < one_body {
        return file_err(
            file,
            "mesh.limits.bufferedBodies",
            format!(
                "{budget} bytes must hold at least one body while it is checked: twice \
                 dataActionTargetBody plus eight times headerBytes ({one_body} bytes)"
            ),
        );
    }
    Ok(())
}

pub(super) fn limits(file: &FileConfig) -> Result<Limits, ConfigError> {
    let l = &file.mesh.limits;
    let header_bytes = file_value(
        file,
        "mesh.limits.headerBytes",
        &l.header_bytes,
        defaults::HEADER_BYTES,
        parse_size,
    )?;
    if header_bytes < 1024 {
        return file_err(file, "mesh.limits.headerBytes", "must be at least 1KiB");
    }
    let data_action_target_body = file_value(
        file,
        "mesh.limits.dataActionTargetBody",
        &l.data_action_target_body,
        defaults::DATA_ACTION_TARGET_BODY,
        parse_size,
    )?;
    let buffered_bodies = file_value(
        file,
        "mesh.limits.bufferedBodies",
        &l.buffered_bodies,
        defaults::BUFFERED_BODIES,
        parse_size,
    )?;
    check_body_budget(file, data_action_target_body, buffered_bodies, header_bytes)?;
    Ok(Limits {
        data_action_target_body,
        buffered_bodies,
        header_bytes,
        max_in_flight_requests: file_value(
            file,
            "mesh.limits.maxInFlightRequests",
            &l.max_in_flight_requests,
            defaults::MAX_IN_FLIGHT_REQUESTS,
            |v| {
                v.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("'{v}' is not a positive whole number"))
            },
        )?,
    })
}
