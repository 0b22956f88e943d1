//! Kafka listeners and their security protocols.
//!
//! Kafka's model: a listener is `NAME://host:port`; its name maps to a security protocol through
//! `listener.security.protocol.map` (default `PLAINTEXT:PLAINTEXT,SSL:SSL,
//! SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL`), so `INTERNAL://` needs an entry such as
//! `INTERNAL:PLAINTEXT`. Names are case-insensitive (Kafka upper-cases them).
//!
//! Client listeners serve all four protocols (TLS through rustls, SASL PLAIN and SCRAM: see
//! [`super::security`]). A controller listener carries Rill's own inter-node protocol, which is
//! plain TCP: one mapped to SSL or SASL is refused at start-up, as serving plain text where the
//! operator asked for TLS would be a silent security hole. The simulator has no TLS (rustls
//! draws its randomness from the OS), so under madsim the TLS protocols are refused too.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

/// One Kafka listener, e.g. `PLAINTEXT://127.0.0.1:9092`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// Upper-cased, as Kafka normalises listener names.
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    /// The address to bind: the host must be an IP literal (IPv6 without brackets here).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip: std::net::IpAddr = self.host.parse().ok()?;
        Some(SocketAddr::new(ip, self.port))
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.name, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.name, self.host, self.port)
        }
    }
}

/// Kafka's security protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    /// Kafka's name for it.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Case-insensitive, as Kafka's `SecurityProtocol.forName`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text))
    }

    /// Whether Rill serves it to Kafka clients: all four, but no TLS in the simulator.
    pub fn is_served_to_clients(self) -> bool {
        !(cfg!(madsim) && self.uses_tls())
    }

    /// Whether connections on it start with a TLS handshake.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections on it authenticate with SASL before any other request.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `listener.security.protocol.map`: listener name → protocol.
pub type ProtocolMap = BTreeMap<String, SecurityProtocol>;

/// Kafka's default map: each protocol's name is a listener name for itself.
pub fn default_protocol_map() -> ProtocolMap {
    SecurityProtocol::ALL
        .into_iter()
        .map(|p| (p.name().to_string(), p))
        .collect()
}

fn is_listener_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `NAME://host:port`; an empty host binds every interface, `[v6]` brackets are dropped.
pub fn parse_listener(text: &str) -> Result<Listener, String> {
    let (name, rest) = text.split_once("://").ok_or("expected NAME://host:port")?;
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or("expected host:port after ://")?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("'{port}' is not a port number"))?;
    if !is_listener_name(name) {
        return Err(format!("'{name}' is not a listener name"));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok(Listener {
        name: name.to_ascii_uppercase(),
        host: host.to_string(),
        port,
    })
}

/// `NAME:PROTOCOL,NAME:PROTOCOL,...`. It replaces the default map, as in Kafka.
pub fn parse_protocol_map(text: &str) -> Result<ProtocolMap, String> {
    let mut map = ProtocolMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, protocol) = entry
            .split_once(':')
            .ok_or_else(|| format!("'{entry}' is not NAME:PROTOCOL"))?;
        let (name, protocol) = (name.trim(), protocol.trim());
        if !is_listener_name(name) {
            return Err(format!("'{name}' is not a listener name"));
        }
        let protocol = SecurityProtocol::parse(protocol).ok_or_else(|| {
            format!("'{protocol}' is not a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)")
        })?;
        map.insert(name.to_ascii_uppercase(), protocol);
    }
    Ok(map)
}

/// Who connects to a listener, which decides the protocols it may speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerRole {
    /// Kafka clients (and brokers, as Kafka's inter-broker listener).
    Clients,
    /// Rill's controller quorum and inter-node traffic: PLAINTEXT only.
    Controller,
}

/// Every listener has a distinct name that maps to a protocol Rill serves for its role. The
/// error says which listener and why, for the caller to put under the config key.
pub fn check_served(
    listeners: &[Listener],
    map: &ProtocolMap,
    role: ListenerRole,
) -> Result<(), String> {
    for (i, listener) in listeners.iter().enumerate() {
        if listeners[..i].iter().any(|l| l.name == listener.name) {
            return Err(format!(
                "listener name {} is used twice; each listener needs its own name",
                listener.name
            ));
        }
        match map.get(&listener.name) {
            None => {
                return Err(format!(
                    "listener '{listener}' has no security protocol: add {name}:PLAINTEXT to \
                     listener.security.protocol.map",
                    name = listener.name
                ))
            }
            Some(protocol)
                if role == ListenerRole::Controller && *protocol != SecurityProtocol::Plaintext =>
            {
                return Err(format!(
                    "controller listener '{listener}' uses security protocol {protocol}: the \
                     controller listener carries Rill's inter-node protocol, which is PLAINTEXT \
                     only (keep it on a private address)"
                ))
            }
            Some(protocol) if !protocol.is_served_to_clients() => {
                return Err(format!(
                    "listener '{listener}' uses security protocol {protocol}, which the \
                     simulator does not serve (no TLS under madsim)"
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listeners(text: &str) -> Vec<Listener> {
        text.split(',')
            .map(|l| parse_listener(l).unwrap())
            .collect()
    }

    #[test]
    fn names_are_upper_cased_and_hosts_normalised() {
        let l = parse_listener("plaintext://:9092").unwrap();
        assert_eq!(
            (l.name.as_str(), l.host.as_str(), l.port),
            ("PLAINTEXT", "0.0.0.0", 9092)
        );
        let v6 = parse_listener("INTERNAL://[::1]:9093").unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "INTERNAL://[::1]:9093");
        assert!(parse_listener("PLAIN-TEXT://:1")
            .unwrap_err()
            .contains("not a listener name"));
    }

    const C: ListenerRole = ListenerRole::Clients;

    #[test]
    fn client_listeners_serve_every_protocol_and_controller_ones_plaintext_only() {
        let map = default_protocol_map();
        for protocol in ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] {
            let one = listeners(&format!("{protocol}://127.0.0.1:9092"));
            assert_eq!(check_served(&one, &map, C), Ok(()), "{protocol}");
            let controller = check_served(&one, &map, ListenerRole::Controller);
            if protocol == "PLAINTEXT" {
                assert_eq!(controller, Ok(()));
            } else {
                let err = controller.unwrap_err();
                assert!(err.contains("PLAINTEXT only"), "{err}");
            }
        }
    }

    #[test]
    fn a_custom_name_must_be_mapped() {
        let internal = listeners("INTERNAL://127.0.0.1:9093");
        let err = check_served(&internal, &default_protocol_map(), C).unwrap_err();
        assert!(
            err.contains("'INTERNAL://127.0.0.1:9093' has no security protocol"),
            "{err}"
        );
        assert!(err.contains("INTERNAL:PLAINTEXT"), "{err}");

        let map = parse_protocol_map("internal:plaintext, EXTERNAL:SSL").unwrap();
        assert_eq!(check_served(&internal, &map, C), Ok(()));
        // The map replaces the default one: PLAINTEXT is no longer mapped here.
        assert!(check_served(&listeners("PLAINTEXT://127.0.0.1:9092"), &map, C).is_err());
        let external = listeners("EXTERNAL://127.0.0.1:9094");
        assert_eq!(check_served(&external, &map, C), Ok(()));
        let err = check_served(&external, &map, ListenerRole::Controller).unwrap_err();
        assert!(err.contains("security protocol SSL"), "{err}");
        // An SSL-named listener mapped to PLAINTEXT is plain text, as the operator said.
        let renamed = parse_protocol_map("SSL:PLAINTEXT").unwrap();
        let ssl = listeners("SSL://127.0.0.1:9092");
        assert_eq!(
            check_served(&ssl, &renamed, ListenerRole::Controller),
            Ok(())
        );
    }

    #[test]
    fn bad_maps_and_duplicate_names_are_refused() {
        assert!(parse_protocol_map("INTERNAL")
            .unwrap_err()
            .contains("NAME:PROTOCOL"));
        assert!(parse_protocol_map("INTERNAL:TLS")
            .unwrap_err()
            .contains("'TLS' is not a security protocol"));
        assert!(parse_protocol_map(":PLAINTEXT")
            .unwrap_err()
            .contains("not a listener name"));
        let twice = listeners("PLAINTEXT://127.0.0.1:9092,plaintext://127.0.0.1:9093");
        assert!(check_served(&twice, &default_protocol_map(), C)
            .unwrap_err()
            .contains("PLAINTEXT is used twice"));
    }
}
