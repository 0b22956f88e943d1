//! Which partition of a coordinator's internal topic holds a key: Kafka's
//! `Utils.abs(key.hashCode()) % partitionCount`, bit for bit, so a group lands on the same
//! `__consumer_offsets` partition (and a transactional id on the same `__transaction_state`
//! partition) as it would on a Kafka cluster with the same partition count
//! (`GroupCoordinator.partitionFor`, `TransactionStateManager.partitionFor`).

/// The partition of `key` (a group id, a transactional id) when the internal topic has
/// `partitions` partitions.
///
/// `partitions` is the registry's count of the existing topic, which is always at least 1. A
/// count of 0 or less has no partition to name; it answers 0 rather than dividing by zero, so a
/// corrupt count cannot panic the caller (the caller then asks for a partition that does not
/// exist and gets Kafka's error for it).
pub fn coordinator_partition(key: &str, partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    java_abs(java_string_hash(key)) % partitions
}

/// Java's `String.hashCode`: `s[0]*31^(n-1) + … + s[n-1]` over the string's UTF-16 code units
/// (not its UTF-8 bytes: a character outside the BMP counts as its two surrogates), in
/// wrapping 32-bit arithmetic.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Kafka's `Utils.abs`: the absolute value, except that `i32::MIN` (whose absolute value does
/// not fit) maps to 0 — Kafka masks with `0x7fffffff` there, where `Math.abs` would stay
/// negative.
fn java_abs(n: i32) -> i32 {
    if n == i32::MIN {
        0
    } else {
        n.abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_java_string_hash_code() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        // ((((103*31 + 114)*31 + 111)*31 + 117)*31 + 112), worked out by hand.
        assert_eq!(java_string_hash("group"), 98_629_247);
        // U+1F600 is the surrogate pair D83D DE00: 55357*31 + 56832.
        assert_eq!(java_string_hash("😀"), 1_772_899);
        // U+00E9 is one UTF-16 unit (233) but two UTF-8 bytes.
        assert_eq!(java_string_hash("é"), 233);
        // Wraps past i32::MAX into the sign bit.
        assert_eq!(java_string_hash("aaaaaaa"), -1_236_860_927);
    }

    #[test]
    fn hash_wraps_in_32_bits() {
        // 97 * 31^6 alone overflows i32: the sum must wrap as Java's int does.
        let expected = "aaaaaaa"
            .bytes()
            .fold(0i64, |h, b| (h * 31 + i64::from(b)) as i32 as i64);
        assert_eq!(i64::from(java_string_hash("aaaaaaa")), expected);
        assert!(
            expected < 0,
            "the test string must overflow into the sign bit"
        );
    }

    #[test]
    fn java_abs_maps_min_to_zero() {
        assert_eq!(java_abs(i32::MIN), 0);
        assert_eq!(java_abs(-5), 5);
        assert_eq!(java_abs(5), 5);
        assert_eq!(java_abs(i32::MAX), i32::MAX);
        // A string whose Java hash code is Integer.MIN_VALUE lands on partition 0.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(coordinator_partition("polygenelubricants", 50), 0);
    }

    #[test]
    fn partition_is_abs_hash_modulo_count() {
        assert_eq!(coordinator_partition("", 50), 0);
        assert_eq!(coordinator_partition("a", 50), 97 % 50);
        assert_eq!(coordinator_partition("group", 50), 98_629_247 % 50);
        assert_eq!(coordinator_partition("group", 1), 0);
        let negative = "aaaaaaa";
        let hash = java_string_hash(negative);
        assert!(hash < 0);
        assert_eq!(coordinator_partition(negative, 50), -(hash % 50));
    }

    #[test]
    fn a_count_below_one_answers_zero_without_dividing() {
        assert_eq!(coordinator_partition("group", 0), 0);
        assert_eq!(coordinator_partition("group", -3), 0);
    }
}
