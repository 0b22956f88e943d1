//! Kafka's `KafkaPrincipal`: `User:alice`, the name ACLs and quotas are written against.

use std::fmt;

/// Who a connection is. Kafka's principal type is `User` for every built-in authenticator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KafkaPrincipal {
    /// `User` (Kafka's `KafkaPrincipal.USER_TYPE`).
    pub kind: String,
    pub name: String,
}

impl KafkaPrincipal {
    /// A connection nobody authenticated (a PLAINTEXT listener, or SSL without a client
    /// certificate): Kafka's `User:ANONYMOUS`.
    pub fn anonymous() -> Self {
        Self::user("ANONYMOUS")
    }

    pub fn user(name: &str) -> Self {
        Self {
            kind: "User".to_string(),
            name: name.to_string(),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.kind == "User" && self.name == "ANONYMOUS"
    }

    /// `Type:name`, as in `super.users` and `--allow-principal`: the type is everything
    /// before the first colon (a distinguished name may hold more colons).
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, name) = text.split_once(':')?;
        if kind.is_empty() {
            return None;
        }
        Some(Self {
            kind: kind.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for KafkaPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_print_and_parse_as_kafka_writes_them() {
        assert_eq!(KafkaPrincipal::user("alice").to_string(), "User:alice");
        let dn = KafkaPrincipal::parse("User:CN=alice,O=a:b").unwrap();
        assert_eq!(
            (dn.kind.as_str(), dn.name.as_str()),
            ("User", "CN=alice,O=a:b")
        );
        assert!(KafkaPrincipal::parse("alice").is_none());
        assert!(KafkaPrincipal::parse(":alice").is_none());
        assert!(KafkaPrincipal::anonymous().is_anonymous());
    }
}
