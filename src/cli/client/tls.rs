//! TLS for the client's connections (rustls with ring, as the broker's listeners): the
//! connector built once from [`TlsClientSettings`], the handshake after TCP connect, and
//! [`Stream`], what a connection reads and writes: the TCP stream itself, or TLS over it.
//!
//! The server name checked against the broker's certificate is the host the tool connects to
//! (a bootstrap server as given, a broker as Metadata names it): a DNS name, or an IP address
//! its certificate must hold as an IP subjectAltName. With
//! `ssl.endpoint.identification.algorithm=` (empty) only that name check is skipped: the chain
//! must still lead to the truststore.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::error::{ClientError, ClientResult};
use super::security::TlsClientSettings;
use crate::config::security::TlsVersion;

pub use tokio_rustls::TlsConnector;

/// Builds the connector; the error names the property whose PEM rustls refused.
pub fn connector(settings: &TlsClientSettings) -> Result<TlsConnector, String> {
    // ring, as the broker: it builds with a C compiler alone (see host/tls.rs).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(settings.trusted_pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("{}: {e}", settings.trusted_from))?;
        // A system bundle may hold a certificate webpki cannot use; a truststore the user
        // wrote may not.
        if let Err(e) = roots.add(cert) {
            if !settings.trusted_from.starts_with("the system") {
                return Err(format!("{}: a certificate: {e}", settings.trusted_from));
            }
        }
    }
    if roots.is_empty() {
        return Err(format!(
            "{}: holds no CA certificate rustls can use",
            settings.trusted_from
        ));
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = (settings.versions.iter())
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("{}: {e}", settings.trusted_from))?;
    let verifier: Arc<dyn ServerCertVerifier> = match settings.verify_host {
        true => verifier,
        false => Arc::new(ChainOnly(verifier)),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("ssl.enabled.protocols: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &settings.identity {
        None => builder.with_no_client_auth(),
        Some((chain_pem, key_pem)) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(chain_pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("the keystore's certificate chain: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
                .map_err(|e| format!("the keystore's private key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the keystore's certificate and key: {e}"))?
        }
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// `ssl.endpoint.identification.algorithm=` (empty): webpki's checks of the chain, its
/// purpose, validity and signatures, without the host name. webpki checks the name last, so
/// a name mismatch means everything else passed.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified =
            (self.0).verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        match verified {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The host of `host:port` (`[v6]:port` too), as TLS names it.
fn server_name(addr: &str) -> ClientResult<ServerName<'static>> {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|_| ClientError::Tls {
        addr: addr.to_string(),
        reason: format!("'{host}' is not a host name or IP address TLS can check"),
    })
}

/// The TLS handshake over a connected `tcp`, within `timeout_ms`.
pub async fn handshake(
    connector: &TlsConnector,
    tcp: TcpStream,
    addr: &str,
    timeout_ms: u64,
) -> ClientResult<Stream> {
    let name = server_name(addr)?;
    let failed = |reason: String| ClientError::Tls {
        addr: addr.to_string(),
        reason,
    };
    let connected = tokio::time::timeout(
        Duration::from_millis(timeout_ms),
        connector.connect(name, tcp),
    )
    .await
    .map_err(|_| failed(format!("no handshake within {timeout_ms} ms")))?
    .map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => failed(format!(
            "the broker closed the connection in the handshake (is the listener PLAINTEXT or \
             SASL_PLAINTEXT? check security.protocol): {e}"
        )),
        _ => failed(describe(&e)),
    })?;
    Ok(Stream::Tls(Box::new(connected)))
}

/// A failed TLS read, write or handshake in words: what is wrong with which certificate, and
/// the property that decides it. Any other error as it is.
pub fn describe(error: &io::Error) -> String {
    use rustls::AlertDescription as Alert;
    let Some(tls) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        return error.to_string();
    };
    let hint = match tls {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the broker's certificate is not signed by a CA of the truststore \
             (ssl.truststore.location / ssl.truststore.certificates)"
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            "the broker's certificate does not name the host connected to \
             (ssl.endpoint.identification.algorithm=https checks it; connect by a name or \
             address the certificate holds)"
        }
        rustls::Error::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        ) => "the broker's certificate is outside its validity period",
        rustls::Error::AlertReceived(
            Alert::CertificateRequired
            | Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::CertificateUnknown
            | Alert::UnsupportedCertificate,
        ) => "the broker refused the client certificate (ssl.keystore.*)",
        rustls::Error::InvalidMessage(_) => {
            "the broker did not answer in TLS (is the listener PLAINTEXT or SASL_PLAINTEXT? \
             check security.protocol)"
        }
        _ => return tls.to_string(),
    };
    format!("{hint}: {tls}")
}

/// What a connection reads and writes. An enum, not a boxed trait object: the plain path
/// stays a direct call into the `TcpStream`.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    /// Whether bytes written may wait in a buffer until a flush (TLS records do).
    pub fn buffers_writes(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_name_is_the_host_connected_to() {
        let name = |addr: &str| server_name(addr).map(|n| n.to_str().into_owned());
        assert_eq!(name("127.0.0.1:9093").unwrap(), "127.0.0.1");
        assert_eq!(
            name("broker-1.example.com:9093").unwrap(),
            "broker-1.example.com"
        );
        assert_eq!(name("[::1]:9093").unwrap(), "::1");
        assert!(matches!(
            server_name("127.0.0.1:9093").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(server_name("bad host:1").is_err());
    }
}
