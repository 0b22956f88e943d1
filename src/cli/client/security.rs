//! The client's security settings (issue 16) under the Java client's names, so that a user's
//! `client.properties` means the same to Rill's tools as to Kafka's:
//!
//! * `security.protocol`: `PLAINTEXT` (the default), `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`.
//! * TLS, PEM only (`ssl.keystore.type=PEM`, `ssl.truststore.type=PEM`; JKS and PKCS12 are
//!   refused with a message saying so): the CAs the broker's certificate must chain to in
//!   `ssl.truststore.location` (a PEM file) or `ssl.truststore.certificates` (the PEM text);
//!   without either, the system's CA bundle (Java's default is its own `cacerts`). A client
//!   certificate for mTLS in `ssl.keystore.location` (one PEM file: the private key and the
//!   chain) or `ssl.keystore.certificate.chain` with `ssl.keystore.key`.
//!   `ssl.endpoint.identification.algorithm`: `https` (the default) checks that the broker's
//!   certificate names the host the tool connects to (a DNS name, or an IP address in its
//!   subjectAltName); empty skips that check but still checks the chain.
//! * SASL: `sasl.mechanism` (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`; Kafka's default,
//!   GSSAPI, is refused with a message saying so) and `sasl.jaas.config` with `username` and
//!   `password` (PlainLoginModule or ScramLoginModule, as Kafka's clients take either).
//!
//! Every problem is an error naming the property; none quotes a password, a key or a JAAS
//! value. [`ClientSecurity::from_settings`] reads and checks everything once, before the first
//! connection: a broken PEM file is reported as such, not as a failed handshake.

use std::collections::BTreeMap;
use std::fmt;

use crate::config::listeners::SecurityProtocol;
use crate::config::pem::has_block;
use crate::config::security::TlsVersion;
use crate::security::jaas::JaasConfig;
use crate::security::sasl::SaslMechanism;

use super::tls::{self, TlsConnector};

/// The keys this module reads. Any other `ssl.`/`sasl.` key is unknown to the tools (a
/// warning from a config file, an error from a flag: see `cli::client_config`).
pub const KEYS: &[&str] = &[
    "security.protocol",
    "sasl.mechanism",
    "sasl.jaas.config",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.truststore.password",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "ssl.enabled.protocols",
    "ssl.protocol",
];

/// Where the system's CA bundle may be when no truststore is given (`SSL_CERT_FILE` first), as
/// OpenSSL and the distributions put it.
const SYSTEM_CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Whether `key` is one of the security keys ([`KEYS`]).
pub fn is_security_key(key: &str) -> bool {
    KEYS.contains(&key)
}

/// How a tool's connections are secured: resolved once, shared by every connection.
#[derive(Clone)]
pub struct ClientSecurity {
    pub protocol: SecurityProtocol,
    /// For SSL and SASL_SSL: the handshake every connection makes after TCP connect.
    pub tls: Option<TlsConnector>,
    /// For SASL_PLAINTEXT and SASL_SSL: the login every connection proves after ApiVersions.
    pub sasl: Option<SaslLogin>,
}

impl Default for ClientSecurity {
    fn default() -> Self {
        Self {
            protocol: SecurityProtocol::Plaintext,
            tls: None,
            sasl: None,
        }
    }
}

impl fmt::Debug for ClientSecurity {
    /// The protocol, mechanism and user: never the password or a key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecurity")
            .field("protocol", &self.protocol)
            .field("sasl", &self.sasl)
            .finish_non_exhaustive()
    }
}

/// Who the client logs in as, and how.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslLogin {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for SaslLogin {
    /// Never the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslLogin")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The TLS settings with their PEM read, before rustls sees them.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsClientSettings {
    /// The CAs the broker's certificate must chain to (PEM `CERTIFICATE` blocks).
    pub trusted_pem: String,
    /// Where they came from, for errors: a property or the system bundle's path.
    pub trusted_from: String,
    /// mTLS: the client's certificate chain (leaf first) and private key, both PEM.
    pub identity: Option<(String, String)>,
    /// `ssl.endpoint.identification.algorithm=https`: the certificate must name the host.
    pub verify_host: bool,
    pub versions: Vec<TlsVersion>,
}

impl fmt::Debug for TlsClientSettings {
    /// Never the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientSettings")
            .field("trusted_from", &self.trusted_from)
            .field("mtls", &self.identity.is_some())
            .field("verify_host", &self.verify_host)
            .field("versions", &self.versions)
            .finish()
    }
}

/// A problem with one property: `key: why`.
fn problem(key: &str, why: impl fmt::Display) -> String {
    format!("{key}: {why}")
}

impl ClientSecurity {
    /// Resolves the security keys of `settings` (the last value of each key, trimmed as Kafka
    /// trims them); other keys are not looked at. Reads the PEM files and builds the TLS
    /// connector, so every problem shows here, naming its property.
    pub fn from_settings(settings: &BTreeMap<String, String>) -> Result<Self, String> {
        let get = |key: &str| settings.get(key).map(|v| v.trim());
        let protocol = match get("security.protocol") {
            None => SecurityProtocol::Plaintext,
            Some(name) => SecurityProtocol::parse(name).ok_or_else(|| {
                problem(
                    "security.protocol",
                    format!("'{name}' is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
                )
            })?,
        };
        let tls = match protocol.uses_tls() {
            true => Some(tls::connector(&tls_settings(&get)?)?),
            false => None,
        };
        let sasl = match protocol.uses_sasl() {
            true => Some(sasl_login(protocol, &get)?),
            false => None,
        };
        Ok(Self {
            protocol,
            tls,
            sasl,
        })
    }
}

/// `sasl.mechanism` and the user name and password of `sasl.jaas.config`.
fn sasl_login<'a>(
    protocol: SecurityProtocol,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<SaslLogin, String> {
    let supported = "set PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512";
    let mechanism = match get("sasl.mechanism") {
        None => {
            return Err(problem(
                "sasl.mechanism",
                format!(
                    "security.protocol={protocol} needs a SASL mechanism, and Kafka's default, \
                     GSSAPI (Kerberos), is not supported: {supported}"
                ),
            ))
        }
        Some(name) => SaslMechanism::parse(name).ok_or_else(|| {
            problem(
                "sasl.mechanism",
                format!("'{name}' is not supported by Rill's tools: {supported}"),
            )
        })?,
    };
    let key = "sasl.jaas.config";
    let example = match mechanism {
        SaslMechanism::Plain => "org.apache.kafka.common.security.plain.PlainLoginModule",
        SaslMechanism::Scram(_) => "org.apache.kafka.common.security.scram.ScramLoginModule",
    };
    let text = get(key).ok_or_else(|| {
        problem(
            key,
            format!(
                "not set: SASL needs the user's name and password, as \
                 {example} required username=\"NAME\" password=\"PASSWORD\";"
            ),
        )
    })?;
    // JaasConfig's errors name options and modules, never values.
    let jaas = JaasConfig::parse(text).map_err(|why| match why.starts_with(key) {
        true => why,
        false => problem(key, why),
    })?;
    // Kafka's clients take either module for either mechanism: both only hold the name and
    // password the mechanism's client reads.
    let module = jaas.login_module.as_str();
    if !(module.ends_with("PlainLoginModule") || module.ends_with("ScramLoginModule")) {
        return Err(problem(
            key,
            format!("login module '{module}' is not supported by Rill's tools (use {example})"),
        ));
    }
    let option = |name: &str| {
        jaas.option(name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| problem(key, format!("the login module has no {name} option")))
    };
    Ok(SaslLogin {
        mechanism,
        username: option("username")?,
        password: option("password")?,
    })
}

/// The `ssl.*` settings, with the PEM files read and checked.
fn tls_settings<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<TlsClientSettings, String> {
    for key in ["ssl.truststore.type", "ssl.keystore.type"] {
        if let Some(kind) = get(key).filter(|kind| !kind.eq_ignore_ascii_case("PEM")) {
            return Err(problem(
                key,
                format!(
                    "'{kind}' is not supported: Rill's tools read PEM only (set PEM; JKS and \
                     PKCS12 stores convert with keytool and openssl)"
                ),
            ));
        }
    }
    for key in ["ssl.keystore.password", "ssl.key.password"] {
        if get(key).is_some() {
            return Err(problem(
                key,
                "encrypted keys and keystore passwords are not supported: give an unencrypted \
                 PEM key (PKCS#8) and keep its file readable by you only",
            ));
        }
    }
    let verify_host = match get("ssl.endpoint.identification.algorithm") {
        None => true,
        Some(algorithm) if algorithm.eq_ignore_ascii_case("https") => true,
        Some("") => false,
        Some(other) => {
            return Err(problem(
                "ssl.endpoint.identification.algorithm",
                format!("'{other}' is not https or empty"),
            ))
        }
    };
    if let Some(protocol) = get("ssl.protocol") {
        if !matches!(protocol, "TLS" | "TLSv1.2" | "TLSv1.3") {
            return Err(problem(
                "ssl.protocol",
                format!("'{protocol}' is not TLS, TLSv1.2 or TLSv1.3"),
            ));
        }
    }
    let versions = match get("ssl.enabled.protocols") {
        None => vec![TlsVersion::Tls12, TlsVersion::Tls13],
        Some(list) => {
            TlsVersion::parse_list(list).map_err(|why| problem("ssl.enabled.protocols", why))?
        }
    };
    let (trusted_pem, trusted_from) = truststore(get)?;
    Ok(TlsClientSettings {
        trusted_pem,
        trusted_from,
        identity: keystore(get)?,
        verify_host,
        versions,
    })
}

/// The CAs to trust: the truststore's PEM and where it came from.
fn truststore<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<(String, String), String> {
    let location = get("ssl.truststore.location").filter(|l| !l.is_empty());
    let certificates = get("ssl.truststore.certificates").filter(|c| !c.is_empty());
    let (pem, from) = match (location, certificates) {
        (Some(_), Some(_)) => {
            return Err(problem(
                "ssl.truststore.location",
                "set ssl.truststore.location or ssl.truststore.certificates, not both",
            ))
        }
        (Some(path), None) => (
            read_pem("ssl.truststore.location", path)?,
            format!("ssl.truststore.location ({path})"),
        ),
        (None, Some(text)) => (text.to_string(), "ssl.truststore.certificates".into()),
        (None, None) => system_truststore()?,
    };
    if !has_block(&pem, |label| label == "CERTIFICATE") {
        return Err(format!(
            "{from}: holds no PEM CERTIFICATE (Rill's tools read PEM truststores only, \
             ssl.truststore.type=PEM)"
        ));
    }
    Ok((pem, from))
}

/// The system's CA bundle: `SSL_CERT_FILE`, else the first of [`SYSTEM_CA_FILES`] that exists.
fn system_truststore() -> Result<(String, String), String> {
    let from_env = std::env::var("SSL_CERT_FILE")
        .ok()
        .filter(|p| !p.is_empty());
    let candidates = from_env
        .iter()
        .map(String::as_str)
        .chain(SYSTEM_CA_FILES.iter().copied());
    for path in candidates {
        if let Ok(text) = std::fs::read_to_string(path) {
            return Ok((text, format!("the system CA bundle {path}")));
        }
    }
    Err(problem(
        "ssl.truststore.location",
        "not set, and no system CA bundle was found: give the PEM file of the CAs that signed \
         the brokers' certificates",
    ))
}

/// mTLS: the client's certificate chain and key, if a keystore is given.
fn keystore<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Option<(String, String)>, String> {
    let location = get("ssl.keystore.location").filter(|l| !l.is_empty());
    let chain = get("ssl.keystore.certificate.chain").filter(|c| !c.is_empty());
    let key = get("ssl.keystore.key").filter(|k| !k.is_empty());
    let (chain_pem, key_pem, from) = match (location, chain, key) {
        (None, None, None) => return Ok(None),
        (Some(path), None, None) => {
            let text = read_pem("ssl.keystore.location", path)?;
            (text.clone(), text, "ssl.keystore.location")
        }
        (None, Some(chain), Some(key)) => (chain.to_string(), key.to_string(), "ssl.keystore.key"),
        (Some(_), _, _) => {
            return Err(problem(
                "ssl.keystore.location",
                "set ssl.keystore.location or ssl.keystore.certificate.chain with \
                 ssl.keystore.key, not both",
            ))
        }
        (None, Some(_), None) | (None, None, Some(_)) => {
            return Err(problem(
                "ssl.keystore.certificate.chain",
                "ssl.keystore.certificate.chain and ssl.keystore.key go together",
            ))
        }
    };
    if has_block(&key_pem, |label| label == "ENCRYPTED PRIVATE KEY") {
        return Err(problem(
            from,
            "the private key is encrypted: Rill's tools need an unencrypted PEM key (PKCS#8)",
        ));
    }
    if !has_block(&key_pem, |label| label.ends_with("PRIVATE KEY")) {
        return Err(problem(from, "holds no PEM PRIVATE KEY"));
    }
    let chain_from = match from {
        "ssl.keystore.key" => "ssl.keystore.certificate.chain",
        other => other,
    };
    if !has_block(&chain_pem, |label| label == "CERTIFICATE") {
        return Err(problem(chain_from, "holds no PEM CERTIFICATE"));
    }
    Ok(Some((chain_pem, key_pem)))
}

/// A PEM file's text. A binary file is most likely a JKS or PKCS12 store: say PEM only.
fn read_pem(key: &str, path: &str) -> Result<String, String> {
    let bytes =
        std::fs::read(path).map_err(|e| problem(key, format!("cannot read {path}: {e}")))?;
    String::from_utf8(bytes).map_err(|_| {
        problem(
            key,
            format!(
                "{path} is not a PEM file (a JKS or PKCS12 store?): Rill's tools read PEM only"
            ),
        )
    })
}

#[cfg(test)]
mod tests;
