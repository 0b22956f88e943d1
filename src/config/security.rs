//! Kafka's TLS and SASL settings of the client listeners (issue 16), under Kafka's names.
//!
//! Every `ssl.*` and `sasl.*` key may also be given for one listener as
//! `listener.name.<listener>.<key>` (the listener's name in lower case), which wins over the
//! plain key, as in Kafka. PLAIN's users come from the listener's JAAS config,
//! `listener.name.<listener>.plain.sasl.jaas.config`, as in Kafka; SCRAM's credentials live
//! in the metadata log (`rill configs --entity-type users`), so SCRAM needs no JAAS config here
//! (one is accepted and ignored). Keystores and truststores are PEM only
//! (`ssl.keystore.type=PEM`): files (`…location`) or the PEM text itself
//! (`ssl.keystore.certificate.chain` and `ssl.keystore.key`, `ssl.truststore.certificates`).
//!
//! Beyond Kafka: PLAIN sends the password itself, so Rill refuses it on a `SASL_PLAINTEXT`
//! listener unless `rill.sasl.plain.over.plaintext.enable=true`; and `sasl.enabled.mechanisms`
//! defaults to `SCRAM-SHA-512,SCRAM-SHA-256` (Kafka's default, GSSAPI, is not served).

use std::collections::BTreeMap;
use std::fmt;

use super::listeners::{Listener, SecurityProtocol};
use super::pem::pem_blocks;
use crate::security::jaas::JaasConfig;
use crate::security::sasl::{SaslMechanism, SaslServerConfig};

/// The `ssl.*` keys a broker takes.
const SSL_KEYS: &[&str] = &[
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.truststore.password",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.protocol",
    // A client-side check (host names of the brokers a broker connects to); Rill's brokers
    // reach each other over the inter-node protocol, so it is accepted and has no effect.
    "ssl.endpoint.identification.algorithm",
    "ssl.principal.mapping.rules",
];

/// The `sasl.*` keys a broker takes (the JAAS configs come per listener and mechanism).
const SASL_KEYS: &[&str] = &[
    "sasl.enabled.mechanisms",
    "sasl.server.max.receive.size",
    // Rill's brokers and controllers talk over the inter-node protocol, not Kafka's: accepted
    // so Kafka configurations load, without effect.
    "sasl.mechanism.inter.broker.protocol",
    "sasl.mechanism.controller.protocol",
];

/// KIP-368's session lifetime (ms; 0: none), the broker's or `listener.name.<l>.`'s.
pub const REAUTH_KEY: &str = "connections.max.reauth.ms";

/// Rill's own switch: PLAIN over a listener without TLS.
pub const PLAIN_OVER_PLAINTEXT_KEY: &str = "rill.sasl.plain.over.plaintext.enable";

/// The default of `sasl.enabled.mechanisms` (Kafka's, GSSAPI, is not served).
const MECHANISMS_DEFAULT: &str = "SCRAM-SHA-512,SCRAM-SHA-256";

/// Whether `key` is one of this module's: the caller hands it to [`SecurityConfig::set`].
pub fn is_security_key(key: &str) -> bool {
    key.starts_with("ssl.")
        || key.starts_with("sasl.")
        || key.starts_with("listener.name.")
        || key == PLAIN_OVER_PLAINTEXT_KEY
        || key == REAUTH_KEY
}

/// Whether `key`'s value is secret (Kafka's PASSWORD-type configs): never logged or described.
pub fn is_sensitive(key: &str) -> bool {
    key.ends_with("sasl.jaas.config")
        || key.ends_with("password")
        || key.ends_with("ssl.keystore.key")
}

/// The security settings as given; [`SecurityConfig::for_listener`] resolves one listener's.
#[derive(Clone, Default, PartialEq)]
pub struct SecurityConfig {
    /// Every `ssl.*`, `sasl.*` and `listener.name.*` setting, by key.
    settings: BTreeMap<String, String>,
    /// `rill.sasl.plain.over.plaintext.enable`
    pub plain_over_plaintext: bool,
}

impl fmt::Debug for SecurityConfig {
    /// Keys only: values hold passwords (JAAS configs) and private keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityConfig")
            .field("keys", &self.settings.keys().collect::<Vec<_>>())
            .field("plain_over_plaintext", &self.plain_over_plaintext)
            .finish()
    }
}

/// Whether and how a TLS listener asks for the client's certificate (`ssl.client.auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// No certificate asked for (Kafka's default).
    None,
    /// Asked for; a client without one is still served, as `User:ANONYMOUS` (or its SASL name).
    Requested,
    /// A client without a certificate signed by the truststore is refused in the handshake.
    Required,
}

/// A TLS version (`ssl.enabled.protocols`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// `ssl.enabled.protocols`' list (Kafka's names), in order, without repeats; at least
    /// one. TLSv1 and TLSv1.1, which Kafka still accepts, are refused: rustls has neither.
    pub fn parse_list(list: &str) -> Result<Vec<TlsVersion>, String> {
        let mut versions = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let version = match name {
                "TLSv1.2" => TlsVersion::Tls12,
                "TLSv1.3" => TlsVersion::Tls13,
                _ => {
                    return Err(format!(
                        "'{name}' is not a TLS version Rill serves (TLSv1.2, TLSv1.3)"
                    ))
                }
            };
            if !versions.contains(&version) {
                versions.push(version);
            }
        }
        if versions.is_empty() {
            return Err("no TLS version is enabled".into());
        }
        Ok(versions)
    }
}

/// One TLS listener's settings, with its PEM files read.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server's certificate chain, leaf first (PEM `CERTIFICATE` blocks).
    pub certificate_chain_pem: String,
    /// The server's private key (a PEM `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`).
    pub private_key_pem: String,
    /// The certificates client certificates must chain to (`ssl.truststore.*`).
    pub trusted_pem: Option<String>,
    pub client_auth: ClientAuth,
    pub versions: Vec<TlsVersion>,
}

impl fmt::Debug for TlsSettings {
    /// Never the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("client_auth", &self.client_auth)
            .field("versions", &self.versions)
            .field("truststore", &self.trusted_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// Kafka's default `sasl.server.max.receive.size`: 512 KiB.
pub const SASL_SERVER_MAX_RECEIVE_BYTES_DEFAULT: usize = 524_288;

/// What one client listener needs to serve its protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerSecurity {
    pub protocol: SecurityProtocol,
    /// `sasl.server.max.receive.size`: the largest frame read before authentication.
    pub unauthenticated_frame_bytes_max: usize,
    /// For SSL and SASL_SSL.
    pub tls: Option<TlsSettings>,
    /// For SASL_PLAINTEXT and SASL_SSL.
    pub sasl: Option<SaslServerConfig>,
}

/// A problem with one key: the key (as the operator wrote it, prefix included) and why.
pub type KeyProblem = (String, String);

impl SecurityConfig {
    /// Takes one setting; unknown `ssl.`/`sasl.` keys are refused like any unknown key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), KeyProblem> {
        if key == PLAIN_OVER_PLAINTEXT_KEY {
            self.plain_over_plaintext = match value.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err((key.into(), format!("'{value}' is not true or false"))),
            };
            return Ok(());
        }
        let key = match key.strip_prefix("listener.name.") {
            // Kafka lower-cases the listener's name in the prefix; a key written with the name
            // in upper case must not be stored where no lookup finds it (a silently ignored
            // `ssl.client.auth=required`).
            Some(rest) => match rest.split_once('.') {
                Some((listener, setting))
                    if !listener.is_empty() && is_listener_setting(setting) =>
                {
                    format!("listener.name.{}.{setting}", listener.to_ascii_lowercase())
                }
                _ => return Err((key.into(), "unknown config key".into())),
            },
            None if SSL_KEYS.contains(&key) || SASL_KEYS.contains(&key) || key == REAUTH_KEY => {
                key.to_string()
            }
            None => return Err((key.into(), "unknown config key".into())),
        };
        self.settings.insert(key, value.to_string());
        Ok(())
    }

    /// The first `listener.name.<l>.` key whose listener is not one of `listeners` (a typo, or
    /// a listener removed): refused, as an ignored override could weaken a listener.
    pub fn stray_listener_key(&self, listeners: &[Listener]) -> Option<String> {
        (self.settings.keys()).find_map(|key| {
            let rest = key.strip_prefix("listener.name.")?;
            let (name, _) = rest.split_once('.')?;
            let known = listeners.iter().any(|l| l.name.eq_ignore_ascii_case(name));
            (!known).then(|| key.clone())
        })
    }

    /// The listener's own value of `key`, else the broker-wide one.
    fn get(&self, listener: &str, key: &str) -> Option<(String, &str)> {
        let prefixed = format!("listener.name.{}.{key}", listener.to_ascii_lowercase());
        if let Some(value) = self.settings.get(&prefixed) {
            return Some((prefixed, value.as_str()));
        }
        (self.settings.get(key)).map(|value| (key.to_string(), value.as_str()))
    }

    /// Resolves and checks one client listener's settings, reading its PEM files.
    pub fn for_listener(
        &self,
        listener: &Listener,
        protocol: SecurityProtocol,
    ) -> Result<ListenerSecurity, KeyProblem> {
        let sasl = match protocol.uses_sasl() {
            true => Some(self.sasl(listener, protocol)?),
            false => None,
        };
        let tls = match protocol.uses_tls() {
            true => Some(self.tls(listener, protocol)?),
            false => None,
        };
        let unauthenticated_frame_bytes_max =
            match self.get(&listener.name, "sasl.server.max.receive.size") {
                None => SASL_SERVER_MAX_RECEIVE_BYTES_DEFAULT,
                Some((key, text)) => match text.trim().parse::<usize>() {
                    Ok(bytes) if (1..=i32::MAX as usize).contains(&bytes) => bytes,
                    _ => {
                        return Err((
                            key,
                            format!("'{text}' is not a byte count from 1 to 2147483647"),
                        ))
                    }
                },
            };
        Ok(ListenerSecurity {
            protocol,
            unauthenticated_frame_bytes_max,
            tls,
            sasl,
        })
    }

    fn tls(
        &self,
        listener: &Listener,
        protocol: SecurityProtocol,
    ) -> Result<TlsSettings, KeyProblem> {
        let name = listener.name.as_str();
        for (key, only) in [("ssl.keystore.type", "PEM"), ("ssl.truststore.type", "PEM")] {
            if let Some((key, value)) = self.get(name, key) {
                if !value.eq_ignore_ascii_case(only) {
                    return Err((
                        key,
                        format!(
                            "'{value}': Rill reads PEM keystores and truststores only (set PEM)"
                        ),
                    ));
                }
            }
        }
        for key in [
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.truststore.password",
        ] {
            if let Some((key, _)) = self.get(name, key) {
                return Err((
                    key,
                    "encrypted PEM keys and keystore passwords are not supported: give an \
                     unencrypted PKCS#8 key and keep the file readable by the broker only"
                        .into(),
                ));
            }
        }
        if let Some((key, rules)) = self.get(name, "ssl.principal.mapping.rules") {
            if rules.trim() != "DEFAULT" {
                return Err((
                    key,
                    "only DEFAULT is supported (the principal is the certificate's subject DN)"
                        .into(),
                ));
            }
        }
        let (certificate_chain_pem, private_key_pem) = self.keystore(name)?;
        let trusted_pem = match (
            self.get(name, "ssl.truststore.location"),
            self.get(name, "ssl.truststore.certificates"),
        ) {
            (Some((key, _)), Some(_)) => {
                return Err((
                    key,
                    "set ssl.truststore.location or ssl.truststore.certificates, not both".into(),
                ))
            }
            (Some((key, path)), None) => Some(read_pem(&key, path)?),
            (None, Some((_, text))) => Some(text.to_string()),
            (None, None) => None,
        };
        if let Some(trusted) = &trusted_pem {
            if pem_blocks(trusted).all(|(label, _)| label != "CERTIFICATE") {
                return Err((
                    "ssl.truststore.location".into(),
                    "the truststore holds no PEM CERTIFICATE".into(),
                ));
            }
        }
        // Kafka: on a SASL_SSL listener only the listener's own ssl.client.auth counts.
        let client_auth = match protocol {
            SecurityProtocol::SaslSsl => {
                let key = format!(
                    "listener.name.{}.ssl.client.auth",
                    name.to_ascii_lowercase()
                );
                self.settings.get(&key).map(|v| (key, v.as_str()))
            }
            _ => self.get(name, "ssl.client.auth"),
        };
        let client_auth = match client_auth {
            None => ClientAuth::None,
            Some((key, value)) => match value.trim().to_ascii_lowercase().as_str() {
                "none" => ClientAuth::None,
                "requested" => ClientAuth::Requested,
                "required" => ClientAuth::Required,
                _ => {
                    return Err((
                        key,
                        format!("'{value}' is not one of required, requested, none"),
                    ))
                }
            },
        };
        if client_auth != ClientAuth::None && trusted_pem.is_none() {
            return Err((
                "ssl.truststore.location".into(),
                format!(
                    "listener {name} asks clients for certificates (ssl.client.auth) but has no \
                     truststore to check them against"
                ),
            ));
        }
        let versions = match self.get(name, "ssl.enabled.protocols") {
            None => vec![TlsVersion::Tls12, TlsVersion::Tls13],
            Some((key, text)) => tls_versions(&key, text)?,
        };
        if let Some((key, value)) = self.get(name, "ssl.protocol") {
            if !matches!(value.trim(), "TLS" | "TLSv1.2" | "TLSv1.3") {
                return Err((key, format!("'{value}' is not TLS, TLSv1.2 or TLSv1.3")));
            }
        }
        Ok(TlsSettings {
            certificate_chain_pem,
            private_key_pem,
            trusted_pem,
            client_auth,
            versions,
        })
    }

    /// The certificate chain and the key: from one PEM file (key and chain, as Kafka's PEM
    /// keystore file), or from the two PEM texts.
    fn keystore(&self, name: &str) -> Result<(String, String), KeyProblem> {
        let location = self.get(name, "ssl.keystore.location");
        let chain = self.get(name, "ssl.keystore.certificate.chain");
        let key = self.get(name, "ssl.keystore.key");
        let (chain_pem, key_pem, from) = match (location, chain, key) {
            (Some((from, path)), None, None) => {
                let text = read_pem(&from, path)?;
                (text.clone(), text, from)
            }
            (None, Some((from, chain)), Some((_, key))) => {
                (chain.to_string(), key.to_string(), from)
            }
            (None, None, None) => {
                return Err((
                    "ssl.keystore.location".into(),
                    format!(
                        "listener {name} speaks TLS but has no keystore: set \
                         ssl.keystore.location (a PEM file with the private key and the \
                         certificate chain), or ssl.keystore.certificate.chain and \
                         ssl.keystore.key"
                    ),
                ))
            }
            (Some((from, _)), _, _) => {
                return Err((
                    from,
                    "set ssl.keystore.location or ssl.keystore.certificate.chain with \
                     ssl.keystore.key, not both"
                        .into(),
                ))
            }
            (None, Some((from, _)), None) | (None, None, Some((from, _))) => {
                return Err((
                    from,
                    "ssl.keystore.certificate.chain and ssl.keystore.key go together".into(),
                ))
            }
        };
        let chain: Vec<&str> = (pem_blocks(&chain_pem))
            .filter(|(label, _)| *label == "CERTIFICATE")
            .map(|(_, block)| block)
            .collect();
        let keys: Vec<(&str, &str)> = (pem_blocks(&key_pem))
            .filter(|(label, _)| label.ends_with("PRIVATE KEY"))
            .collect();
        if chain.is_empty() {
            return Err((from, "no PEM CERTIFICATE found for the keystore".into()));
        }
        match keys.as_slice() {
            [("ENCRYPTED PRIVATE KEY", _)] => Err((
                from,
                "the private key is encrypted: Rill needs an unencrypted PKCS#8 key".into(),
            )),
            [(_, block)] => Ok((chain.join("\n"), block.to_string())),
            [] => Err((from, "no PEM PRIVATE KEY found for the keystore".into())),
            _ => Err((from, "more than one PEM PRIVATE KEY in the keystore".into())),
        }
    }

    fn sasl(
        &self,
        listener: &Listener,
        protocol: SecurityProtocol,
    ) -> Result<SaslServerConfig, KeyProblem> {
        let name = listener.name.as_str();
        let (key, list) = (self.get(name, "sasl.enabled.mechanisms"))
            .unwrap_or(("sasl.enabled.mechanisms".into(), MECHANISMS_DEFAULT));
        let mechanisms =
            SaslMechanism::parse_list(list).map_err(|problem| (key.clone(), problem))?;
        let mut plain_users = BTreeMap::new();
        if mechanisms.contains(&SaslMechanism::Plain) {
            if protocol == SecurityProtocol::SaslPlaintext && !self.plain_over_plaintext {
                return Err((
                    key,
                    format!(
                        "listener {name} is SASL_PLAINTEXT and enables PLAIN, which would send \
                         passwords in clear text: use SASL_SSL or SCRAM, or set \
                         {PLAIN_OVER_PLAINTEXT_KEY}=true"
                    ),
                ));
            }
            let jaas_key = format!(
                "listener.name.{}.plain.sasl.jaas.config",
                name.to_ascii_lowercase()
            );
            let Some(text) = self.settings.get(&jaas_key) else {
                return Err((
                    jaas_key,
                    format!(
                        "listener {name} enables PLAIN but names no users: set it to \
                         org.apache.kafka.common.security.plain.PlainLoginModule required \
                         user_NAME=\"PASSWORD\";"
                    ),
                ));
            };
            let jaas = JaasConfig::parse(text).map_err(|problem| (jaas_key.clone(), problem))?;
            if !jaas.login_module.ends_with("PlainLoginModule") {
                return Err((
                    jaas_key,
                    format!(
                        "'{}' is not PLAIN's login module (PlainLoginModule)",
                        jaas.login_module
                    ),
                ));
            }
            plain_users = jaas.plain_users();
            if plain_users.is_empty() {
                return Err((
                    jaas_key,
                    "no user_NAME=\"PASSWORD\" option: PLAIN has no users".into(),
                ));
            }
        }
        let reauth_ms = match self.get(name, REAUTH_KEY) {
            None => 0,
            Some((key, text)) => match text.trim().parse::<u64>() {
                Ok(ms) if ms <= i64::MAX as u64 => ms,
                _ => return Err((key, format!("'{text}' is not a number of ms from 0"))),
            },
        };
        Ok(SaslServerConfig {
            mechanisms,
            plain_users,
            reauth_ms,
        })
    }
}

/// Whether `setting` may follow `listener.name.<listener>.`.
fn is_listener_setting(setting: &str) -> bool {
    let sasl = [
        "sasl.enabled.mechanisms",
        "sasl.server.max.receive.size",
        REAUTH_KEY,
    ];
    if SSL_KEYS.contains(&setting) || sasl.contains(&setting) {
        return true;
    }
    match setting.strip_suffix(".sasl.jaas.config") {
        Some(mechanism) => SaslMechanism::parse(&mechanism.to_ascii_uppercase()).is_some(),
        None => false,
    }
}

fn tls_versions(key: &str, text: &str) -> Result<Vec<TlsVersion>, KeyProblem> {
    TlsVersion::parse_list(text).map_err(|problem| (key.into(), problem))
}

fn read_pem(key: &str, path: &str) -> Result<String, KeyProblem> {
    std::fs::read_to_string(path).map_err(|e| (key.to_string(), format!("cannot read {path}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::listeners::parse_listener;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n";

    fn config(pairs: &[(&str, &str)]) -> Result<SecurityConfig, KeyProblem> {
        let mut config = SecurityConfig::default();
        for (key, value) in pairs {
            config.set(key, value)?;
        }
        Ok(config)
    }

    fn resolve(pairs: &[(&str, &str)], listener: &str) -> Result<ListenerSecurity, KeyProblem> {
        let listener = parse_listener(listener).unwrap();
        let protocol = SecurityProtocol::parse(&listener.name).unwrap();
        config(pairs)?.for_listener(&listener, protocol)
    }

    #[test]
    fn unknown_security_keys_are_refused_and_listener_prefixes_are_checked() {
        assert!(config(&[("ssl.keystore.locaton", "x")]).is_err());
        assert!(config(&[("sasl.jaas.config", "x")]).is_err());
        assert!(config(&[("listener.name.sasl_ssl.plain.sasl.jaas.config", "x")]).is_ok());
        assert!(config(&[("listener.name.sasl_ssl.gssapi.sasl.jaas.config", "x")]).is_err());
        assert!(config(&[("listener.name.ssl.ssl.client.auth", "required")]).is_ok());
        assert!(config(&[("listener.name..ssl.client.auth", "required")]).is_err());
        // The listener's name in upper case is the same listener (Kafka lower-cases it).
        let upper = config(&[("listener.name.SASL_SSL.ssl.client.auth", "required")]).unwrap();
        let listener = parse_listener("SASL_SSL://127.0.0.1:1").unwrap();
        assert_eq!(
            upper.get("SASL_SSL", "ssl.client.auth").unwrap().1,
            "required"
        );
        assert_eq!(upper.stray_listener_key(&[listener]), None);
        let other = parse_listener("SSL://127.0.0.1:2").unwrap();
        assert_eq!(
            upper.stray_listener_key(&[other]).as_deref(),
            Some("listener.name.sasl_ssl.ssl.client.auth")
        );
        assert!(config(&[(PLAIN_OVER_PLAINTEXT_KEY, "maybe")]).is_err());
        assert!(is_security_key("ssl.anything") && !is_security_key("log.dirs"));
    }

    #[test]
    fn a_tls_listener_takes_its_keystore_from_pem_text_and_its_own_prefix_wins() {
        let chain = format!("{CERT}{CERT}");
        let resolved = resolve(
            &[
                ("ssl.keystore.certificate.chain", &chain),
                ("ssl.keystore.key", KEY),
                ("ssl.truststore.certificates", CERT),
                ("ssl.client.auth", "requested"),
                ("listener.name.ssl.ssl.client.auth", "required"),
                ("ssl.enabled.protocols", "TLSv1.3"),
            ],
            "SSL://127.0.0.1:9093",
        )
        .unwrap();
        let tls = resolved.tls.unwrap();
        assert_eq!(tls.client_auth, ClientAuth::Required);
        assert_eq!(tls.versions, vec![TlsVersion::Tls13]);
        assert_eq!(
            tls.certificate_chain_pem
                .matches("BEGIN CERTIFICATE")
                .count(),
            2
        );
        assert!(tls.private_key_pem.contains("BBBB"));
        assert!(resolved.sasl.is_none());
        assert!(
            !format!("{tls:?}").contains("BBBB"),
            "Debug never shows the key"
        );
    }

    #[test]
    fn a_keystore_file_holds_the_key_and_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.pem");
        std::fs::write(&path, format!("{KEY}{CERT}")).unwrap();
        let path = path.to_str().unwrap();
        let tls = resolve(&[("ssl.keystore.location", path)], "SSL://127.0.0.1:9093")
            .unwrap()
            .tls
            .unwrap();
        assert!(tls.private_key_pem.contains("BBBB") && !tls.private_key_pem.contains("AAAA"));
        assert!(tls.certificate_chain_pem.contains("AAAA"));
        assert_eq!(tls.client_auth, ClientAuth::None);
        let missing = resolve(
            &[("ssl.keystore.location", "/nonexistent.pem")],
            "SSL://127.0.0.1:1",
        );
        assert!(missing
            .unwrap_err()
            .1
            .contains("cannot read /nonexistent.pem"));
    }

    #[test]
    fn tls_mistakes_are_explained() {
        let problem = |pairs: &[(&str, &str)]| resolve(pairs, "SSL://127.0.0.1:9093").unwrap_err();
        assert!(problem(&[]).1.contains("has no keystore"));
        let both = [("ssl.keystore.certificate.chain", CERT)];
        assert!(problem(&both).1.contains("go together"));
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nC\n-----END ENCRYPTED PRIVATE KEY-----";
        let enc = [
            ("ssl.keystore.certificate.chain", CERT),
            ("ssl.keystore.key", encrypted),
        ];
        assert!(problem(&enc).1.contains("encrypted"));
        let jks = [
            ("ssl.keystore.type", "JKS"),
            ("ssl.keystore.certificate.chain", CERT),
            ("ssl.keystore.key", KEY),
        ];
        assert!(problem(&jks).1.contains("PEM"));
        let no_trust = [
            ("ssl.keystore.certificate.chain", CERT),
            ("ssl.keystore.key", KEY),
            ("ssl.client.auth", "required"),
        ];
        assert!(problem(&no_trust).1.contains("no truststore"));
        let old = [
            ("ssl.keystore.certificate.chain", CERT),
            ("ssl.keystore.key", KEY),
            ("ssl.enabled.protocols", "TLSv1.1"),
        ];
        assert!(problem(&old).1.contains("TLSv1.1"));
        let password = [("ssl.key.password", "x")];
        assert_eq!(problem(&password).0, "ssl.key.password");
    }

    #[test]
    fn on_sasl_ssl_only_the_listeners_own_client_auth_counts() {
        let base = [
            ("ssl.keystore.certificate.chain", CERT),
            ("ssl.keystore.key", KEY),
            ("ssl.truststore.certificates", CERT),
            ("ssl.client.auth", "required"),
        ];
        let resolved = resolve(&base, "SASL_SSL://127.0.0.1:9094").unwrap();
        assert_eq!(resolved.tls.unwrap().client_auth, ClientAuth::None);
        let mut own = base.to_vec();
        own.push(("listener.name.sasl_ssl.ssl.client.auth", "required"));
        let resolved = resolve(&own, "SASL_SSL://127.0.0.1:9094").unwrap();
        assert_eq!(resolved.tls.unwrap().client_auth, ClientAuth::Required);
    }

    #[test]
    fn sasl_listeners_default_to_scram_and_plain_needs_users_and_tls() {
        let scram = resolve(&[], "SASL_PLAINTEXT://127.0.0.1:9095").unwrap();
        let sasl = scram.sasl.unwrap();
        assert_eq!(sasl.mechanisms.len(), 2);
        assert!(!sasl.mechanisms.contains(&SaslMechanism::Plain));

        let jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                    username=\"admin\" password=\"admin-pw\" user_admin=\"admin-pw\" user_alice=\"alice-pw\";";
        let plain = [
            ("sasl.enabled.mechanisms", "PLAIN"),
            ("listener.name.sasl_plaintext.plain.sasl.jaas.config", jaas),
        ];
        let err = resolve(&plain, "SASL_PLAINTEXT://127.0.0.1:9095").unwrap_err();
        assert!(err.1.contains(PLAIN_OVER_PLAINTEXT_KEY), "{err:?}");
        let mut allowed = plain.to_vec();
        allowed.push((PLAIN_OVER_PLAINTEXT_KEY, "true"));
        let sasl = resolve(&allowed, "SASL_PLAINTEXT://127.0.0.1:9095")
            .unwrap()
            .sasl
            .unwrap();
        assert_eq!(
            sasl.plain_users.get("alice").map(String::as_str),
            Some("alice-pw")
        );
        assert_eq!(sasl.plain_users.len(), 2);

        let no_users = resolve(
            &[("sasl.enabled.mechanisms", "PLAIN")],
            "SASL_SSL://127.0.0.1:1",
        );
        let err = no_users.unwrap_err();
        assert!(err.0.starts_with("listener.name.sasl_ssl.plain"), "{err:?}");
        let gssapi = resolve(
            &[("sasl.enabled.mechanisms", "GSSAPI")],
            "SASL_PLAINTEXT://127.0.0.1:1",
        );
        assert!(gssapi.unwrap_err().1.contains("not served"));
    }

    #[test]
    fn the_session_lifetime_is_the_listener_s_else_the_broker_s() {
        let sasl = |settings: &[(&str, &str)]| {
            resolve(settings, "SASL_PLAINTEXT://127.0.0.1:9095").map(|s| s.sasl.unwrap().reauth_ms)
        };
        assert_eq!(sasl(&[]), Ok(0), "Kafka's default: no re-authentication");
        assert_eq!(sasl(&[(REAUTH_KEY, "60000")]), Ok(60_000));
        let listener_s = "listener.name.sasl_plaintext.connections.max.reauth.ms";
        assert_eq!(
            sasl(&[(REAUTH_KEY, "60000"), (listener_s, "5000")]),
            Ok(5_000)
        );
        for bad in ["-1", "soon", "9223372036854775808"] {
            let err = sasl(&[(REAUTH_KEY, bad)]).unwrap_err();
            assert_eq!(err.0, REAUTH_KEY, "{bad}");
        }
    }

    #[test]
    fn debug_output_names_keys_not_values() {
        let config = config(&[("ssl.keystore.key", KEY)]).unwrap();
        let shown = format!("{config:?}");
        assert!(
            shown.contains("ssl.keystore.key") && !shown.contains("BBBB"),
            "{shown}"
        );
    }
}
