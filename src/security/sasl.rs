//! The SASL mechanisms a listener offers (`sasl.enabled.mechanisms`) and what the broker needs
//! to check each: PLAIN's users from the listener's JAAS config; SCRAM's credentials live in
//! the metadata log and are looked up per login.

use std::collections::BTreeMap;
use std::fmt;

use super::scram::ScramMechanism;

/// A SASL mechanism Rill serves. Kafka's GSSAPI (Kerberos) and OAUTHBEARER are not served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SaslMechanism {
    Plain,
    Scram(ScramMechanism),
}

impl SaslMechanism {
    pub const ALL: [SaslMechanism; 3] = [
        SaslMechanism::Plain,
        SaslMechanism::Scram(ScramMechanism::Sha256),
        SaslMechanism::Scram(ScramMechanism::Sha512),
    ];

    /// The IANA name a client's SaslHandshake names it by.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Scram(m) => m.name(),
        }
    }

    /// By name, case-sensitive as SASL names are (Kafka compares them exactly).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// A comma-separated list (`sasl.enabled.mechanisms`): names trimmed, duplicates kept once,
    /// order kept (the order SaslHandshake lists them in).
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        let mut out = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let mechanism = Self::parse(name).ok_or_else(|| match name {
                "GSSAPI" | "OAUTHBEARER" => format!(
                    "SASL mechanism {name} is not served by Rill (PLAIN, SCRAM-SHA-256 and \
                     SCRAM-SHA-512 are)"
                ),
                _ => format!(
                    "'{name}' is not a SASL mechanism Rill serves (PLAIN, SCRAM-SHA-256, \
                     SCRAM-SHA-512)"
                ),
            })?;
            if !out.contains(&mechanism) {
                out.push(mechanism);
            }
        }
        if out.is_empty() {
            return Err("no SASL mechanism is enabled".into());
        }
        Ok(out)
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a SASL listener's connections authenticate against.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SaslServerConfig {
    /// `sasl.enabled.mechanisms` (the listener's, else the broker's), in order.
    pub mechanisms: Vec<SaslMechanism>,
    /// PLAIN's users and passwords: the `user_NAME="password"` options of the listener's
    /// `listener.name.NAME.plain.sasl.jaas.config` (Kafka's PlainServerCallbackHandler).
    pub plain_users: BTreeMap<String, String>,
    /// `connections.max.reauth.ms` (the listener's, else the broker's; KIP-368): how long an
    /// authenticated session lasts before the client must authenticate again on the same
    /// connection; 0 (Kafka's default): as long as the connection.
    pub reauth_ms: u64,
}

impl fmt::Debug for SaslServerConfig {
    /// Names the users, never their passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslServerConfig")
            .field("mechanisms", &self.mechanisms)
            .field("plain_users", &self.plain_users.keys().collect::<Vec<_>>())
            .field("reauth_ms", &self.reauth_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_lists_parse_as_kafka_names_them() {
        let list = SaslMechanism::parse_list(" SCRAM-SHA-512, PLAIN ,SCRAM-SHA-512").unwrap();
        assert_eq!(
            list,
            vec![
                SaslMechanism::Scram(ScramMechanism::Sha512),
                SaslMechanism::Plain
            ]
        );
        assert!(SaslMechanism::parse_list("GSSAPI")
            .unwrap_err()
            .contains("not served"));
        assert!(SaslMechanism::parse_list("plain").is_err());
        assert!(SaslMechanism::parse_list(" , ").is_err());
    }

    #[test]
    fn debug_output_hides_plain_passwords() {
        let config = SaslServerConfig {
            mechanisms: vec![SaslMechanism::Plain],
            plain_users: [("alice".to_string(), "secret-pw".to_string())].into(),
            reauth_ms: 0,
        };
        let shown = format!("{config:?}");
        assert!(
            shown.contains("alice") && !shown.contains("secret-pw"),
            "{shown}"
        );
    }
}
