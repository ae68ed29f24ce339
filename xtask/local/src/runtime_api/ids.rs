//! Ids: random numbers, request ids, trace ids and log stream names.

use super::*;

/// 64 random bits from the operating system.
pub fn random_u64() -> u64 {
    // The OS generator does not fail on the systems this runs on; a clock-based value keeps
    // ids distinct if it ever did.
    getrandom::u64().unwrap_or_else(|_| {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| {
            u64::try_from(d.as_nanos() & u128::from(u64::MAX)).unwrap_or(0)
        })
    })
}

/// A random (version 4) UUID, the form of Lambda's and API Gateway's request ids.
pub fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An X-Ray trace header: `Root=1-<epoch secs hex>-<96 random bits>;Parent=...;Sampled=0`.
pub(super) fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "Root=1-{secs:08x}-{:08x}{:016x};Parent={:016x};Sampled=0",
        random_u64() & 0xffff_ffff,
        random_u64(),
        random_u64()
    )
}

/// `YYYY/MM/DD/[$LATEST]<32 hex>`, the form of a Lambda log stream name.
pub(super) fn log_stream_name() -> String {
    format!(
        "{}/[$LATEST]{:016x}{:016x}",
        stream_date(SystemTime::now()),
        random_u64(),
        random_u64()
    )
}

/// `YYYY/MM/DD` of a time, in UTC.
pub(super) fn stream_date(at: SystemTime) -> String {
    let rfc3339 = humantime::format_rfc3339_seconds(at).to_string();
    rfc3339.get(..10).unwrap_or("1970-01-01").replace('-', "/")
}
