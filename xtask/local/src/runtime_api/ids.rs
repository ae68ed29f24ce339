//! Ids: random numbers, request ids, trace ids and log stream names.

use super::*;

/// 64 random bits from std (`RandomState` is seeded from the OS per instance).
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// A random (version 4) UUID, the form of Lambda's and API Gateway's request ids.
pub fn uuid_v4() -> String {
    let (a, b) = (random_u64(), random_u64());
    let a = (a & !0xf000) | 0x4000; // version 4
    let b = (b & !(0b11 << 62)) | (0b10 << 62); // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
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
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_date(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}/{m:02}/{d:02}/[$LATEST]{:016x}{:016x}",
        random_u64(),
        random_u64()
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's `civil_from_days`).
pub(super) fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
