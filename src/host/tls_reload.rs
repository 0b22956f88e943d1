//! Certificate reload without a restart (beyond Kafka, which reloads a listener's keystore
//! when a dynamic config update names it): a TLS listener's keystore and truststore files are
//! read again every `rill.ssl.reload.interval.ms`, and a set that changed and still makes a
//! valid acceptor serves new connections from then on, so a certificate renewed on disk
//! (cert-manager, certbot, an operator's copy) is picked up in place. Connections already open
//! keep theirs. A set that does not load (a key that does not match its certificate, a file
//! half written) is logged and the current one kept; the next read tries again.

use std::time::Duration;

use tokio::sync::watch;

use super::tls::{acceptor, SharedAcceptor};
use crate::config::security::TlsSettings;
use crate::config::{Listener, ServerConfig};

/// The PEM texts a listener serves: what a reload compares.
fn pems(settings: &TlsSettings) -> [&str; 3] {
    let trusted = settings.trusted_pem.as_deref().unwrap_or("");
    [
        &settings.certificate_chain_pem,
        &settings.private_key_pem,
        trusted,
    ]
}

/// Reads `listener`'s certificate files every `interval` until `stop`, replacing `shared`'s
/// acceptor when they changed from `served` (what it was made from) and load.
pub async fn reload_every(
    config: ServerConfig,
    listener: Listener,
    shared: SharedAcceptor,
    mut served: TlsSettings,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let read = || {
        config
            .listener_security(&listener)
            .map(|security| security.tls)
    };
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let fresh = match read() {
            Ok(Some(fresh)) => fresh,
            Ok(None) => return, // not a TLS listener (cannot happen: checked at start)
            Err((key, problem)) => {
                tracing::warn!(
                    listener = %listener.name,
                    %key,
                    %problem,
                    "TLS certificates not reloaded; the listener keeps serving the ones it has"
                );
                continue;
            }
        };
        if pems(&served) == pems(&fresh) {
            continue;
        }
        match acceptor(&fresh) {
            Ok(replacement) => {
                shared.replace(replacement);
                tracing::info!(listener = %listener.name, "TLS certificates reloaded");
                served = fresh;
            }
            Err(problem) => tracing::warn!(
                listener = %listener.name,
                %problem,
                "TLS certificates not reloaded; the listener keeps serving the ones it has"
            ),
        }
    }
}
