//! Topic config values checked as Kafka's `ConfigDef` parses and validates them (types INT,
//! LONG, DOUBLE, BOOLEAN and the throttled-replica LIST), for [`super::topic_config::resolve`].
//! Each error names the key and the problem; the caller answers it as INVALID_CONFIG.

/// A whole number in `min..=max` (Kafka's INT and LONG: surrounding blanks allowed, then
/// `Integer.parseInt` / `Long.parseLong`, then the `Range` validator).
pub fn whole(key: &str, value: &str, min: i64, max: i64) -> Result<i64, String> {
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{key}: '{value}' is not a whole number"))?;
    if n < min || n > max {
        return Err(format!("{key}: {n} is out of range {min}..={max}"));
    }
    Ok(n)
}

/// A LONG of at least `min` (Kafka's `Range.atLeast`).
pub fn long_at_least(key: &str, value: &str, min: i64) -> Result<i64, String> {
    whole(key, value, min, i64::MAX)
}

/// A number in `min..=max` (Kafka's DOUBLE with `Range.between`). NaN is refused: Kafka's
/// range check lets it through (every comparison with NaN is false), and a NaN dirty ratio
/// would make the cleaner's "dirty enough?" test always false.
pub fn ratio(key: &str, value: &str, min: f64, max: f64) -> Result<f64, String> {
    let x: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{key}: '{value}' is not a number"))?;
    if x.is_nan() || x < min || x > max {
        return Err(format!("{key}: {value} is out of range {min}..={max}"));
    }
    Ok(x)
}

/// Kafka's BOOLEAN: `true` or `false`, any case, surrounding blanks allowed.
pub fn boolean(key: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{key}: '{value}' is not true or false")),
    }
}

/// `compression.gzip.level`: 1 to 9, or -1 for the codec's default (KIP-390).
pub fn gzip_level(key: &str, value: &str) -> Result<i64, String> {
    let level = whole(key, value, -1, 9)?;
    if level == 0 {
        return Err(format!(
            "{key}: 0 is not a gzip level (1..=9, or -1 for the default)"
        ));
    }
    Ok(level)
}

/// `leader.replication.throttled.replicas` / `follower.replication.throttled.replicas`
/// (Kafka's `ThrottledReplicaListValidator`): empty, the literal `*`, or a comma-separated list
/// of `partitionId:brokerId` (each an int); empty items only at the end.
pub fn throttled_replicas(key: &str, value: &str) -> Result<(), String> {
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    if items == ["*"] {
        return Ok(());
    }
    let mut seen_empty = false;
    for item in items {
        if item.is_empty() {
            seen_empty = true;
            continue;
        }
        let replica = item.split_once(':').filter(|(partition, broker)| {
            [partition, broker].iter().all(|id| {
                !id.is_empty()
                    && id.bytes().all(|b| b.is_ascii_digit())
                    && id.parse::<i32>().is_ok()
            })
        });
        if seen_empty || replica.is_none() {
            return Err(format!(
                "{key}: '{value}' must be the literal '*' or a list of replicas in the format \
                 [partitionId]:[brokerId],[partitionId]:[brokerId],..."
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_trimmed_parsed_and_ranged() {
        assert_eq!(whole("k", " 42 ", 0, 100), Ok(42));
        assert_eq!(whole("k", "+7", 0, 100), Ok(7));
        assert_eq!(
            whole("k", "1.5", 0, 100),
            Err("k: '1.5' is not a whole number".into())
        );
        assert_eq!(
            whole("k", "", 0, 100),
            Err("k: '' is not a whole number".into())
        );
        assert_eq!(
            whole("k", "101", 0, 100),
            Err("k: 101 is out of range 0..=100".into())
        );
        assert_eq!(
            whole("k", "99999999999999999999", 0, i64::MAX),
            Err("k: '99999999999999999999' is not a whole number".into())
        );
        assert_eq!(
            long_at_least("k", "-1", 0).unwrap_err(),
            format!("k: -1 is out of range 0..={}", i64::MAX)
        );
        assert_eq!(long_at_least("k", "9223372036854775807", 1), Ok(i64::MAX));
    }

    #[test]
    fn ratios_are_numbers_in_range_and_never_nan() {
        assert_eq!(ratio("r", "0.5", 0.0, 1.0), Ok(0.5));
        assert_eq!(ratio("r", " 1 ", 0.0, 1.0), Ok(1.0));
        assert_eq!(ratio("r", "0", 0.0, 1.0), Ok(0.0));
        assert_eq!(ratio("r", "1e-2", 0.0, 1.0), Ok(0.01));
        assert_eq!(
            ratio("r", "1.01", 0.0, 1.0),
            Err("r: 1.01 is out of range 0..=1".into())
        );
        assert!(ratio("r", "-0.1", 0.0, 1.0).is_err());
        assert!(ratio("r", "NaN", 0.0, 1.0).is_err());
        assert!(ratio("r", "inf", 0.0, 1.0).is_err());
        assert_eq!(
            ratio("r", "half", 0.0, 1.0),
            Err("r: 'half' is not a number".into())
        );
    }

    #[test]
    fn booleans_are_true_or_false_in_any_case() {
        assert_eq!(boolean("b", "true"), Ok(true));
        assert_eq!(boolean("b", " FALSE "), Ok(false));
        assert_eq!(boolean("b", "True"), Ok(true));
        assert_eq!(
            boolean("b", "yes"),
            Err("b: 'yes' is not true or false".into())
        );
        assert!(boolean("b", "1").is_err());
        assert!(boolean("b", "").is_err());
    }

    #[test]
    fn gzip_levels_are_one_to_nine_or_the_default() {
        assert_eq!(gzip_level("g", "-1"), Ok(-1));
        assert_eq!(gzip_level("g", "1"), Ok(1));
        assert_eq!(gzip_level("g", "9"), Ok(9));
        assert!(gzip_level("g", "0")
            .unwrap_err()
            .contains("not a gzip level"));
        assert!(gzip_level("g", "10").unwrap_err().contains("out of range"));
        assert!(gzip_level("g", "-2").unwrap_err().contains("out of range"));
    }

    #[test]
    fn throttled_replicas_are_a_star_or_partition_broker_pairs() {
        for good in [
            "",
            "*",
            " * ",
            "0:1",
            "0:1,1:1",
            "0:1 , 2:3",
            "0:1,",
            "0:1,,",
        ] {
            assert_eq!(throttled_replicas("t", good), Ok(()), "{good:?}");
        }
        for bad in [
            "*,0:1",
            "0",
            "0:",
            ":1",
            "a:1",
            "0:1:2",
            "-1:1",
            "0:1,,2:3",
            ",0:1",
            "99999999999:1",
            "0:+1",
        ] {
            let err = throttled_replicas("t", bad).unwrap_err();
            assert!(err.starts_with("t: "), "{bad:?}: {err}");
            assert!(err.contains("[partitionId]:[brokerId]"), "{bad:?}: {err}");
        }
    }
}
