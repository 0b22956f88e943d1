//! TLS on the Kafka listeners (rustls with ring): a listener's [`TlsSettings`] become an
//! [`Acceptor`], and a client certificate's subject becomes the connection's principal, as
//! Kafka's DEFAULT `ssl.principal.mapping.rules` make it: `User:` and the distinguished name
//! as RFC 2253 prints it (most specific first, `CN=alice,OU=clients,O=Rill Test`).
//!
//! Not under madsim: rustls draws its randomness from the OS, which a replayed seed cannot
//! control; there [`Acceptor`] has no values and the config refuses TLS listeners.

use crate::config::security::TlsSettings;
use crate::security::principal::KafkaPrincipal;

#[cfg(not(madsim))]
pub use real::*;

use std::sync::{Arc, PoisonError, RwLock};

/// A listener's acceptor, replaced whole when its certificate files are read again
/// ([`super::tls_reload`]): each connection takes the one current when it is accepted, so one
/// already open keeps the certificate it was served.
#[derive(Clone)]
pub struct SharedAcceptor(Arc<RwLock<Acceptor>>);

impl SharedAcceptor {
    pub fn new(acceptor: Acceptor) -> Self {
        Self(Arc::new(RwLock::new(acceptor)))
    }

    /// The acceptor new connections take now.
    pub fn current(&self) -> Acceptor {
        // A writer never panics while holding the lock; a poisoned one still holds a whole
        // acceptor.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Serves new connections with `acceptor` from now on.
    pub fn replace(&self, acceptor: Acceptor) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = acceptor;
    }
}

#[cfg(madsim)]
pub use simulated::*;

#[cfg(madsim)]
mod simulated {
    use super::*;

    /// No TLS in the simulator: a value of this type cannot exist.
    #[derive(Clone)]
    pub enum Acceptor {}

    pub fn acceptor(_: &TlsSettings) -> Result<Acceptor, String> {
        Err("TLS is not served in the simulator".into())
    }

    /// Unreachable: no [`Acceptor`] exists.
    pub fn principal_of(_: &[u8]) -> Option<KafkaPrincipal> {
        None
    }
}

#[cfg(not(madsim))]
mod real {
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::server::WebPkiClientVerifier;
    use rustls::RootCertStore;

    use super::*;
    use crate::config::security::{ClientAuth, TlsVersion};

    /// A listener's TLS: the handshake for each accepted connection.
    pub type Acceptor = tokio_rustls::TlsAcceptor;

    /// Builds a listener's acceptor; the error says what in the PEM is wrong.
    pub fn acceptor(settings: &TlsSettings) -> Result<Acceptor, String> {
        // ring builds with a C compiler alone (aws-lc-rs, rustls' default, needs cmake);
        // its only lack is the post-quantum key exchange rustls deprecates it for.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(settings.certificate_chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("the keystore's certificate chain: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(settings.private_key_pem.as_bytes())
            .map_err(|e| format!("the keystore's private key: {e}"))?;
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = (settings.versions.iter())
            .map(|v| match v {
                TlsVersion::Tls12 => &rustls::version::TLS12,
                TlsVersion::Tls13 => &rustls::version::TLS13,
            })
            .collect();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| format!("ssl.enabled.protocols: {e}"))?;
        let verifier = match (settings.client_auth, &settings.trusted_pem) {
            (ClientAuth::None, _) => WebPkiClientVerifier::no_client_auth(),
            // The config refuses this at start; never quietly serve without client auth.
            (_, None) => {
                return Err(
                    "ssl.client.auth asks for certificates but there is no truststore \
                            to check them against"
                        .into(),
                )
            }
            (auth, Some(trusted)) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(trusted.as_bytes()) {
                    let cert = cert.map_err(|e| format!("the truststore: {e}"))?;
                    (roots.add(cert)).map_err(|e| format!("a truststore certificate: {e}"))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = match auth {
                    ClientAuth::Requested => verifier.allow_unauthenticated(),
                    _ => verifier,
                };
                verifier
                    .build()
                    .map_err(|e| format!("ssl.client.auth: {e}"))?
            }
        };
        let config = builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| format!("the keystore's certificate and key: {e}"))?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }

    /// The principal of a verified client certificate (DER): `User:` and its subject DN.
    pub fn principal_of(certificate: &[u8]) -> Option<KafkaPrincipal> {
        let (_, cert) = x509_parser::parse_x509_certificate(certificate).ok()?;
        Some(KafkaPrincipal::user(&rfc2253(cert.subject())))
    }

    /// The name as Java's `X500Principal.getName()` (RFC 2253) prints it: RDNs from the last
    /// to the first, `+` inside a multi-valued one, known attribute types by keyword, others
    /// as their OID with the value's bytes in hex.
    fn rfc2253(name: &x509_parser::x509::X509Name<'_>) -> String {
        let rdns: Vec<String> = (name.iter_rdn())
            .map(|rdn| {
                let parts: Vec<String> = (rdn.iter())
                    .map(|attr| {
                        let oid = attr.attr_type().to_id_string();
                        match (keyword(&oid), attr.as_str()) {
                            (Some(keyword), Ok(value)) => format!("{keyword}={}", escape(value)),
                            _ => format!("{oid}=#{}", hex(attr.as_slice())),
                        }
                    })
                    .collect();
                parts.join("+")
            })
            .collect();
        rdns.into_iter().rev().collect::<Vec<_>>().join(",")
    }

    /// RFC 2253's keywords (the ones Java prints by name).
    fn keyword(oid: &str) -> Option<&'static str> {
        Some(match oid {
            "2.5.4.3" => "CN",
            "2.5.4.6" => "C",
            "2.5.4.7" => "L",
            "2.5.4.8" => "ST",
            "2.5.4.9" => "STREET",
            "2.5.4.10" => "O",
            "2.5.4.11" => "OU",
            "0.9.2342.19200300.100.1.1" => "UID",
            "0.9.2342.19200300.100.1.25" => "DC",
            _ => return None,
        })
    }

    /// RFC 2253 §2.4: `,+"\<>;` escaped, and a leading `#` or space and a trailing space.
    fn escape(value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        let last = value.chars().count().saturating_sub(1);
        for (i, c) in value.chars().enumerate() {
            let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
                || (i == 0 && (c == '#' || c == ' '))
                || (i == last && c == ' ');
            if special {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn rfc2253_escapes_what_it_must() {
            assert_eq!(escape("a,b+c"), "a\\,b\\+c");
            assert_eq!(escape("#x y "), "\\#x y\\ ");
            assert_eq!(escape("plain"), "plain");
            assert_eq!(escape(""), "");
        }

        /// The test certificates (tests/fixtures/tls): alice's subject as Kafka prints it, and
        /// the server's keystore and the CA as a listener takes them.
        #[test]
        fn a_client_certificate_names_its_subject_as_rfc_2253_does() {
            let pem = include_str!("../../tests/fixtures/tls/client-alice.pem");
            let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            assert_eq!(
                principal_of(&der).unwrap().to_string(),
                "User:CN=alice,OU=clients,O=Rill Test"
            );
            let server = include_str!("../../tests/fixtures/tls/server.pem");
            for client_auth in [
                ClientAuth::None,
                ClientAuth::Requested,
                ClientAuth::Required,
            ] {
                let settings = TlsSettings {
                    certificate_chain_pem: server.into(),
                    private_key_pem: server.into(),
                    trusted_pem: Some(include_str!("../../tests/fixtures/tls/ca.pem").into()),
                    client_auth,
                    versions: vec![TlsVersion::Tls12, TlsVersion::Tls13],
                };
                assert!(acceptor(&settings).is_ok(), "{client_auth:?}");
                // Without a truststore, asking for certificates is refused, not dropped.
                let untrusting = TlsSettings {
                    trusted_pem: None,
                    ..settings
                };
                let refused = acceptor(&untrusting).map(|_| ());
                assert_eq!(
                    refused.is_err(),
                    client_auth != ClientAuth::None,
                    "{client_auth:?}"
                );
            }
        }

        #[test]
        fn broken_pem_is_explained_not_a_panic() {
            let settings = TlsSettings {
                certificate_chain_pem:
                    "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n".into(),
                private_key_pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
                    .into(),
                trusted_pem: None,
                client_auth: ClientAuth::None,
                versions: vec![TlsVersion::Tls13],
            };
            assert!(acceptor(&settings).is_err());
            assert!(principal_of(b"not a certificate").is_none());
        }
    }
}
