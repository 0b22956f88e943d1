//! Kafka's topic name rule, in one place: the topics actor refuses a bad name with it, the
//! partitions actor keeps a bad name from becoming a directory with it, and the client tools
//! explain a bad name with it before they contact a broker.

/// Kafka's longest topic name, in bytes (legal names are ASCII, so also in characters).
pub const TOPIC_NAME_BYTES_MAX: usize = 249;

/// The controller quorum's metadata log (Kafka's `Topic.CLUSTER_METADATA_TOPIC_NAME`): no topic
/// of this name can be created (its one partition's directory, `__cluster_metadata-0`, holds
/// the Raft log in the same data directory as the partitions).
pub const CLUSTER_METADATA_TOPIC: &str = "__cluster_metadata";

/// Characters of a client-sent name quoted in an error message (Kafka's longest legal topic
/// name is 249).
pub const NAME_SHOWN_CHARS_MAX: usize = 255;

/// A name that breaks Kafka's rule, with the words that say why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IllegalName {
    /// `topic name '…' is illegal: …`, the name cut by [`shown`].
    pub message: String,
}

impl std::fmt::Display for IllegalName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for IllegalName {}

/// Kafka's rule: `[a-zA-Z0-9._-]{1,249}`, not `.` or `..`. The broker and the client tools
/// both check it, so a tool can refuse a bad name before it contacts a broker.
pub fn validate_name(name: &str) -> Result<(), IllegalName> {
    match name_problem(name) {
        Some(why) => Err(IllegalName {
            message: format!("topic name '{}' is illegal: {why}", shown(name)),
        }),
        None => Ok(()),
    }
}

/// Whether `name` follows Kafka's rule; allocates nothing. A legal name is also a safe
/// directory name: it cannot climb out of the storage root (`..`, `/`) or be empty.
pub fn is_legal(name: &str) -> bool {
    (1..=TOPIC_NAME_BYTES_MAX).contains(&name.len())
        && name.chars().all(legal_char)
        && name != "."
        && name != ".."
}

fn legal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'
}

/// What is wrong with a topic name, in words, naming the characters that are not allowed.
fn name_problem(name: &str) -> Option<String> {
    if is_legal(name) {
        return None;
    }
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name == "." || name == ".." {
        return Some("'.' and '..' are reserved".into());
    }
    let mut illegal: Vec<char> = name.chars().filter(|c| !legal_char(*c)).collect();
    if !illegal.is_empty() {
        illegal.sort_unstable();
        illegal.dedup();
        let listed: Vec<String> = illegal
            .iter()
            .map(|c| format!("'{}'", c.escape_debug()))
            .collect();
        return Some(format!(
            "it contains {}; only ASCII letters, digits, '.', '_' and '-' are allowed",
            listed.join(", ")
        ));
    }
    Some(format!(
        "it is {} characters long; at most {TOPIC_NAME_BYTES_MAX} are allowed",
        name.len()
    ))
}

/// A client-sent name as error messages show it: at most [`NAME_SHOWN_CHARS_MAX`] characters.
/// Kafka strings hold at most 32,767 bytes, so a message quoting a 32,000-byte name whole could
/// not be encoded, and the connection closed instead of the error arriving (found by probing).
pub fn shown(name: &str) -> String {
    match name.char_indices().nth(NAME_SHOWN_CHARS_MAX) {
        None => name.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes)", &name[..cut], name.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kafka_rules() {
        for ok in ["a", "orders", "my.topic_v2-x", &"x".repeat(249)] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
            assert!(is_legal(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "has space",
            "slash/no",
            "../up",
            "ümlaut",
            &"x".repeat(250),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
            assert!(!is_legal(bad), "{bad}");
        }
    }

    #[test]
    fn a_bad_name_is_explained() {
        let why = |name: &str| validate_name(name).unwrap_err().message;
        assert_eq!(
            why("bad name"),
            "topic name 'bad name' is illegal: it contains ' '; only ASCII letters, digits, \
             '.', '_' and '-' are allowed"
        );
        assert!(
            why("a/b c/\tü").contains("it contains '\\t', ' ', '/', 'ü';"),
            "{}",
            why("a/b c/\tü")
        );
        assert_eq!(why(""), "topic name '' is illegal: it is empty");
        assert!(why("..").ends_with("'.' and '..' are reserved"));
        assert!(
            why(&"x".repeat(250)).ends_with("it is 250 characters long; at most 249 are allowed")
        );
    }

    #[test]
    fn a_long_name_is_cut_in_messages_so_they_stay_encodable() {
        assert_eq!(shown("orders"), "orders");
        let long = "t".repeat(32_000);
        let message = validate_name(&long).unwrap_err().message;
        assert!(message.len() < 400, "{}", message.len());
        assert!(message.contains("(32000 bytes)"), "{message}");
    }
}
