//! The operator's side of a server: where the admin endpoint listens (`admin.listener`) and
//! how logs are written (`log.format`). Neither is Kafka's (Kafka has JMX and log4j).

use std::net::SocketAddr;

/// Where the admin endpoint listens, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminListener {
    /// `None`: off (`admin.listener=`).
    pub addr: Option<SocketAddr>,
    /// Set in the configuration (a port that cannot be bound stops the server) rather than the
    /// default (a busy default port — a second broker on one host — logs a warning and the
    /// broker runs without the endpoint).
    pub explicit: bool,
}

/// The default `admin.listener` (Redpanda's admin port; loopback only unless configured).
pub const ADMIN_LISTENER_DEFAULT: &str = "127.0.0.1:9644";

impl Default for AdminListener {
    fn default() -> Self {
        Self {
            addr: ADMIN_LISTENER_DEFAULT.parse().ok(),
            explicit: false,
        }
    }
}

impl AdminListener {
    /// `admin.listener`'s value: `host:port` (an IP address or `localhost`; port 0 picks one),
    /// or empty for none.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self {
                addr: None,
                explicit: true,
            });
        }
        let text = text.strip_prefix("http://").unwrap_or(text);
        let resolved = match text.strip_prefix("localhost:") {
            Some(port) => format!("127.0.0.1:{port}"),
            None => text.to_string(),
        };
        let addr = resolved.parse::<SocketAddr>().map_err(|_| {
            format!("'{text}' is not host:port with an IP address or localhost (or empty: off)")
        })?;
        Ok(Self {
            addr: Some(addr),
            explicit: true,
        })
    }
}

/// `log.format`: lines for people (`text`, the default) or one JSON object per line for log
/// shippers (`json`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("'{other}' is not a log format (text, json)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_listener_values() {
        assert_eq!(
            AdminListener::default().addr,
            Some("127.0.0.1:9644".parse().unwrap())
        );
        assert!(!AdminListener::default().explicit);
        let off = AdminListener::parse(" ").unwrap();
        assert_eq!((off.addr, off.explicit), (None, true));
        let any = AdminListener::parse("0.0.0.0:0").unwrap();
        assert_eq!(any.addr, Some("0.0.0.0:0".parse().unwrap()));
        let local = AdminListener::parse("localhost:9700").unwrap();
        assert_eq!(local.addr, Some("127.0.0.1:9700".parse().unwrap()));
        let error = AdminListener::parse("admin.example:9644").unwrap_err();
        assert!(error.contains("not host:port"), "{error}");
    }

    #[test]
    fn log_formats() {
        assert_eq!(LogFormat::parse("JSON"), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Ok(LogFormat::Text));
        assert!(LogFormat::parse("xml").is_err());
    }
}
