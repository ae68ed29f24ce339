//! The layout of each table: key names, index names, the attribute names the handlers read
//! and write, and the record type of its items. The table declarations in
//! [`crate::system::resources`] use the same constants and types.

pub mod businesses;
pub mod idempotency;
pub mod inventory;
pub mod orders;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(orders::shard_of("abc"), orders::shard_of("abc"));
        let mut seen = [0u32; orders::STATUS_SHARDS as usize];
        for i in 0..800 {
            seen[orders::shard_of(&format!("order-{i}")) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
        assert!(orders::status_shard("PENDING", "x").starts_with("PENDING#"));
    }

    #[test]
    fn email_claims_ignore_case_and_spaces() {
        assert_eq!(
            businesses::email_claim(" Ann@Example.COM "),
            "EMAIL#ann@example.com"
        );
    }
}
