//! A client's address as the text ACL hosts are compared with.
//!
//! Kafka compares an ACL's host with `InetAddress.getHostAddress()` of the connection's peer,
//! as text. For IPv6 Java prints all eight groups in lower-case hex without leading zeros and
//! without `::` shortening (`0:0:0:0:0:0:0:1`, where Rust prints `::1`), and it reads a peer
//! whose address is IPv4-mapped (`::ffff:10.0.0.1`, an IPv4 client of a dual-stack listener)
//! as the IPv4 address. ACLs written for a Kafka cluster name hosts that way, so Rill must
//! print the peer the same way or an ACL naming `0:0:0:0:0:0:0:1` would never match.
//!
//! `core::net` holds address values only (no sockets): naming it does no I/O.

use core::net::IpAddr;

/// The client's address as Java's `InetAddress.getHostAddress` prints it. (A scope id, which
/// Java appends as `%id` for link-local peers, is not part of an `IpAddr`; the caller that
/// has one appends it.)
pub fn client_host_text(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => (v6.segments().iter())
                .map(|group| format!("{group:x}"))
                .collect::<Vec<_>>()
                .join(":"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn addresses_print_as_java_prints_them() {
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(client_host_text(v4), "10.0.0.1");
        assert_eq!(
            client_host_text(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            "0:0:0:0:0:0:0:1"
        );
        let v6: Ipv6Addr = "2001:db8::ff00:42:8329".parse().unwrap();
        assert_eq!(
            client_host_text(IpAddr::V6(v6)),
            "2001:db8:0:0:0:ff00:42:8329"
        );
        let upper: Ipv6Addr = "FE80::ABCD".parse().unwrap();
        assert_eq!(client_host_text(IpAddr::V6(upper)), "fe80:0:0:0:0:0:0:abcd");
        let mapped = Ipv4Addr::new(192, 168, 1, 7).to_ipv6_mapped();
        assert_eq!(client_host_text(IpAddr::V6(mapped)), "192.168.1.7");
        // An IPv4-compatible address (deprecated, ::a.b.c.d) stays IPv6, as in Java.
        let compatible = Ipv4Addr::new(1, 2, 3, 4).to_ipv6_compatible();
        assert_eq!(
            client_host_text(IpAddr::V6(compatible)),
            "0:0:0:0:0:0:102:304"
        );
    }
}
