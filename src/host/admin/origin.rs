//! Which web pages may call the console's login and writes: the cluster's own console pages.
//!
//! A browser sends `Origin` with every cross-origin request and with every POST. A page of
//! another site (or a DNS-rebinding name that points at this endpoint) must not be able to try
//! passwords or write through an operator's browser, so a request that carries an `Origin`
//! is taken only from
//! * the admin address a node of this cluster registered (`http://host:port`): another
//!   node's console page, sending a group's reset to its coordinator; or
//! * this endpoint itself as addressed by an IP literal or `localhost` (`Origin` equal to
//!   `http://` + the `Host` header): a name could be an attacker's, rebound to this address.
//!
//! A request without `Origin` is not a browser page's (curl, scripts): it is taken, and its
//! credentials decide. Reads (`/metrics`, the JSON the page reads) are open and unaffected.

use std::net::IpAddr;

/// Whether a request with `Origin: origin` and `Host: host` comes from one of the cluster's
/// console pages (`cluster_origins`: every registered admin address, `http://host:port`).
pub fn allowed(origin: &str, host: Option<&str>, cluster_origins: &[String]) -> bool {
    if cluster_origins.iter().any(|o| o == origin) {
        return true;
    }
    let Some(host) = host else {
        return false;
    };
    origin.strip_prefix("http://") == Some(host) && is_literal(host)
}

/// `host[:port]` names an IP address or `localhost`, not a name someone else's DNS decides.
fn is_literal(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]:9644`
        Some(v6) => v6.split_once(']').map_or(v6, |(address, _)| address),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clusters_pages_are_allowed_and_other_sites_are_not() {
        let cluster = vec![
            "http://127.0.0.1:9644".to_string(),
            "http://127.0.0.1:9645".to_string(),
        ];
        let host = Some("127.0.0.1:9645");
        // Another node's page, and this one's.
        assert!(allowed("http://127.0.0.1:9644", host, &cluster));
        assert!(allowed("http://127.0.0.1:9645", host, &cluster));
        // This endpoint reached by another literal address, or as localhost.
        assert!(allowed(
            "http://10.0.0.5:9645",
            Some("10.0.0.5:9645"),
            &cluster
        ));
        assert!(allowed(
            "http://localhost:9645",
            Some("localhost:9645"),
            &cluster
        ));
        assert!(allowed("http://[::1]:9645", Some("[::1]:9645"), &cluster));
        // Another site; a rebound name that reaches this endpoint; a mismatched host.
        assert!(!allowed("https://evil.example", host, &cluster));
        assert!(!allowed(
            "http://evil.example:9645",
            Some("evil.example:9645"),
            &cluster
        ));
        assert!(!allowed("http://127.0.0.1:9999", host, &cluster));
        assert!(!allowed("null", host, &cluster));
        assert!(!allowed("http://127.0.0.1:9646", None, &cluster));
    }
}
