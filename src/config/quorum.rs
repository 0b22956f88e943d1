//! The controller quorum's settings, by Kafka's KRaft names: `process.roles`,
//! `controller.quorum.voters`, `controller.listener.names`,
//! `controller.quorum.election.timeout.ms`.
//!
//! Rill's nodes are combined (broker and controller in one process, Kafka's
//! `process.roles=broker,controller`, the default), controller-only (`process.roles=controller`:
//! a voter with no Kafka listener and no broker, e.g. the third voter of two brokers), or
//! broker-only (`process.roles=broker`: a broker that follows the metadata log as an observer of
//! the quorum, with no vote; its `node.id` is not among the voters). Without
//! `controller.quorum.voters` the node is a quorum of one: its own controller, as the embedded
//! default. The controller listener (the listener named in `controller.listener.names`, default
//! `CONTROLLER`) carries Rill's inter-node protocol, not Kafka's: no client connects there, and
//! Metadata never advertises it. A broker-only node needs none (Kafka's brokers have none
//! either): it listens for the voters' answers on a port of its own choosing on its first
//! listener's address, and tells them where when it connects.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::listeners::Listener;

/// Kafka's default `controller.quorum.election.timeout.ms`.
pub const ELECTION_TIMEOUT_MS_DEFAULT: u64 = 1000;
/// Kafka's default `broker.heartbeat.interval.ms`.
pub const BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT: u64 = 2000;

/// `process.roles`: what a node runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProcessRoles {
    /// `broker,controller`: a voter and a broker.
    #[default]
    Combined,
    /// `controller`: a voter only, no Kafka listener.
    Controller,
    /// `broker`: a broker only, following the metadata log as an observer (no vote).
    Broker,
}

impl ProcessRoles {
    /// Kafka's text form.
    pub fn text(self) -> &'static str {
        match self {
            ProcessRoles::Combined => "broker,controller",
            ProcessRoles::Controller => "controller",
            ProcessRoles::Broker => "broker",
        }
    }
}

/// Kafka's `leader.imbalance.check.interval.seconds` default.
pub const LEADER_IMBALANCE_CHECK_INTERVAL_S_DEFAULT: u64 = 300;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerConfig {
    /// `process.roles`
    pub roles: ProcessRoles,
    /// `controller.quorum.voters` (`id@host:port,...`); empty: this node alone.
    pub voters: BTreeMap<u64, SocketAddr>,
    /// `controller.listener.names`, upper-cased.
    pub listener_names: Vec<String>,
    /// `controller.quorum.election.timeout.ms`
    pub election_timeout_ms: u64,
    /// `broker.session.timeout.ms`: a broker the quorum's leader has not heard from for this
    /// long is fenced.
    pub broker_session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms`: how often a broker tells the leader it is alive.
    pub broker_heartbeat_interval_ms: u64,
    /// `auto.leader.rebalance.enable` (Kafka's default true): the leader of the quorum moves
    /// partition leaderships back to their preferred replicas.
    pub auto_leader_rebalance: bool,
    /// `leader.imbalance.check.interval.seconds` (Kafka's default 300).
    pub leader_imbalance_check_interval_s: u64,
    /// The most metadata entries one Append of the quorum carries. Not a configuration key
    /// (Kafka has none): the simulator makes it 1 or 2 in some runs, so that a follower
    /// acknowledges an earlier term's entries apart from the new leader's no-op.
    pub append_max_entries: usize,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            roles: ProcessRoles::Combined,
            voters: BTreeMap::new(),
            listener_names: vec!["CONTROLLER".to_owned()],
            election_timeout_ms: ELECTION_TIMEOUT_MS_DEFAULT,
            broker_session_timeout_ms: crate::controller::liveness::SESSION_TIMEOUT_MS_DEFAULT,
            broker_heartbeat_interval_ms: BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT,
            auto_leader_rebalance: true,
            leader_imbalance_check_interval_s: LEADER_IMBALANCE_CHECK_INTERVAL_S_DEFAULT,
            append_max_entries: crate::controller::raft::core::RaftConfig::default()
                .max_entries_per_append,
        }
    }
}

impl ControllerConfig {
    /// Whether `listener` is a controller listener (it speaks the inter-node protocol).
    pub fn is_controller_listener(&self, listener: &Listener) -> bool {
        self.listener_names.contains(&listener.name)
    }

    /// The voters' ids; this node alone when none are configured.
    pub fn voter_ids(&self, node_id: u64) -> Vec<u64> {
        if self.voters.is_empty() {
            vec![node_id]
        } else {
            self.voters.keys().copied().collect()
        }
    }

    /// The other voters and where they listen.
    pub fn peers(&self, node_id: u64) -> BTreeMap<u64, SocketAddr> {
        let mut peers = self.voters.clone();
        peers.remove(&node_id);
        peers
    }
}

/// `process.roles`: combined nodes, controller-only or broker-only ones.
pub fn parse_roles(text: &str) -> Result<ProcessRoles, String> {
    let mut roles: Vec<String> = text
        .split(',')
        .map(|r| r.trim().to_ascii_lowercase())
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort();
    roles.dedup();
    for role in &roles {
        if role != "broker" && role != "controller" {
            return Err(format!("'{role}' is not a role (broker, controller)"));
        }
    }
    match roles.as_slice() {
        [b, c] if b == "broker" && c == "controller" => Ok(ProcessRoles::Combined),
        [c] if c == "controller" => Ok(ProcessRoles::Controller),
        [b] if b == "broker" => Ok(ProcessRoles::Broker),
        _ => Err(format!(
            "'{text}': a node is a broker and a controller (process.roles=broker,controller), \
             a controller only (process.roles=controller) or a broker only \
             (process.roles=broker)"
        )),
    }
}

/// `controller.quorum.voters`: `1@127.0.0.1:9093,2@127.0.0.2:9093`. Hosts are IP literals or
/// `localhost` (Rill resolves no names: a voter's address must not change under it).
pub fn parse_voters(text: &str) -> Result<BTreeMap<u64, SocketAddr>, String> {
    let mut voters = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (id, address) = entry
            .split_once('@')
            .ok_or_else(|| format!("'{entry}' is not id@host:port"))?;
        let id: u64 = id
            .trim()
            .parse()
            .ok()
            .filter(|id| *id <= i32::MAX as u64)
            .ok_or_else(|| format!("'{id}' in '{entry}' is not a node id"))?;
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| format!("'{entry}' has no port"))?;
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            host.parse().map_err(|_| {
                format!("'{host}' in '{entry}' is not an IP address (host names are not resolved)")
            })?
        };
        let port: u16 = port
            .trim()
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("'{port}' in '{entry}' is not a port"))?;
        if voters.insert(id, SocketAddr::new(ip, port)).is_some() {
            return Err(format!("voter {id} is listed twice"));
        }
    }
    Ok(voters)
}

/// What a node's quorum settings must satisfy: a voter (combined or controller-only) is one of
/// the voters, and its controller listener (if any) is where the voters reach it; a
/// broker-only node is none of them. Returns where the node listens for the other nodes: its
/// controller listener, else its voter address, else (a quorum of one; a broker-only node on
/// its first listener's address) any port.
pub fn check(
    config: &ControllerConfig,
    node_id: u64,
    listeners: &[Listener],
) -> Result<SocketAddr, (&'static str, String)> {
    let controller: Vec<&Listener> = listeners
        .iter()
        .filter(|l| config.is_controller_listener(l))
        .collect();
    if controller.len() > 1 {
        return Err((
            "listeners",
            "more than one controller listener (controller.listener.names)".to_owned(),
        ));
    }
    match config.roles {
        ProcessRoles::Combined | ProcessRoles::Broker if controller.len() == listeners.len() => {
            return Err((
                "listeners",
                "no listener for clients: every listener is a controller listener".to_owned(),
            ));
        }
        ProcessRoles::Controller => {
            if let Some(client) = listeners.iter().find(|l| !config.is_controller_listener(l)) {
                return Err((
                    "listeners",
                    format!(
                        "'{}' is not a controller listener (controller.listener.names): a \
                         controller-only node (process.roles=controller) serves no Kafka client",
                        client.name
                    ),
                ));
            }
            if config.voters.is_empty() {
                return Err((
                    "controller.quorum.voters",
                    "a controller-only node (process.roles=controller) needs the quorum's \
                     voters: alone it would be a quorum without a broker"
                        .to_owned(),
                ));
            }
        }
        ProcessRoles::Broker => {
            if config.voters.is_empty() {
                return Err((
                    "controller.quorum.voters",
                    "a broker-only node (process.roles=broker) follows the quorum's voters: \
                     name them"
                        .to_owned(),
                ));
            }
            if config.voters.contains_key(&node_id) {
                return Err((
                    "controller.quorum.voters",
                    format!(
                        "node.id {node_id} is one of the voters: a broker-only node \
                         (process.roles=broker) has no vote (process.roles=broker,controller \
                         gives it one)"
                    ),
                ));
            }
            let client = listeners.iter().find(|l| !config.is_controller_listener(l));
            let listen = controller
                .first()
                .copied()
                .or(client)
                .and_then(|l| l.socket_addr());
            let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
            return Ok(match (controller.first(), listen) {
                (Some(_), Some(addr)) => addr,
                (None, Some(addr)) => SocketAddr::new(addr.ip(), 0),
                (_, None) => any,
            });
        }
        ProcessRoles::Combined => {}
    }
    let own = config.voters.get(&node_id).copied();
    if !config.voters.is_empty() && own.is_none() {
        return Err((
            "controller.quorum.voters",
            format!("node.id {node_id} is not one of the voters (every node votes)"),
        ));
    }
    let listener = controller.first().and_then(|l| l.socket_addr());
    // A wildcard controller listener (`CONTROLLER://:9093`) takes the voters at its port.
    let reaches = |listener: SocketAddr, own: SocketAddr| {
        listener.port() == own.port() && (listener.ip().is_unspecified() || listener == own)
    };
    match (listener, own) {
        (Some(listener), Some(own)) if !reaches(listener, own) => Err((
            "controller.quorum.voters",
            format!(
                "this node's voter address {own} is not its controller listener {listener}: \
                 the other voters could not reach it"
            ),
        )),
        (Some(addr), _) | (None, Some(addr)) => Ok(addr),
        (None, None) => Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(name: &str, port: u16) -> Listener {
        Listener {
            name: name.into(),
            host: "127.0.0.1".into(),
            port,
        }
    }

    #[test]
    fn voters_are_ids_at_ip_addresses() {
        let voters = parse_voters("1@127.0.0.1:9093, 2@localhost:9094,3@[::1]:9095").unwrap();
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            voters,
            BTreeMap::from([
                (1, addr("127.0.0.1:9093")),
                (2, addr("127.0.0.1:9094")),
                (3, addr("[::1]:9095")),
            ])
        );
        assert_eq!(parse_voters("").unwrap(), BTreeMap::new());
        for bad in [
            "1",
            "x@127.0.0.1:9093",
            "1@127.0.0.1",
            "1@host.example:9093",
            "1@127.0.0.1:0",
            "1@127.0.0.1:9093,1@127.0.0.2:9093",
            "-1@127.0.0.1:9093",
        ] {
            assert!(parse_voters(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn combined_controller_only_and_broker_only_nodes_are_accepted() {
        assert_eq!(parse_roles("broker,controller"), Ok(ProcessRoles::Combined));
        assert_eq!(
            parse_roles(" Controller , broker"),
            Ok(ProcessRoles::Combined)
        );
        assert_eq!(parse_roles("controller"), Ok(ProcessRoles::Controller));
        assert_eq!(parse_roles("broker"), Ok(ProcessRoles::Broker));
        for refused in ["", "broker,controller,zookeeper", "zookeeper"] {
            assert!(parse_roles(refused).is_err(), "{refused}");
        }
    }

    /// A controller-only node has controller listeners only, and voters to belong to.
    #[test]
    fn a_controller_only_node_has_no_client_listener_and_needs_voters() {
        let three = ControllerConfig {
            roles: ProcessRoles::Controller,
            voters: parse_voters("1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095").unwrap(),
            ..ControllerConfig::default()
        };
        let only = [listener("CONTROLLER", 9095)];
        assert_eq!(check(&three, 3, &only).unwrap().port(), 9095);
        let with_client = [listener("PLAINTEXT", 9092), listener("CONTROLLER", 9095)];
        let (key, problem) = check(&three, 3, &with_client).unwrap_err();
        assert_eq!(key, "listeners");
        assert!(
            problem.contains("'PLAINTEXT' is not a controller listener"),
            "{problem}"
        );
        let alone = ControllerConfig {
            voters: BTreeMap::new(),
            ..three.clone()
        };
        assert_eq!(
            check(&alone, 3, &only).unwrap_err().0,
            "controller.quorum.voters"
        );
        assert_eq!(
            check(&three, 4, &only).unwrap_err().0,
            "controller.quorum.voters"
        );
    }

    /// A broker-only node names voters it is not one of; it listens for their answers on its
    /// controller listener if it has one, else on its client listener's address.
    #[test]
    fn a_broker_only_node_follows_voters_it_is_not_one_of() {
        let three = ControllerConfig {
            roles: ProcessRoles::Broker,
            voters: parse_voters("1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095").unwrap(),
            ..ControllerConfig::default()
        };
        let plain = [listener("PLAINTEXT", 9096)];
        assert_eq!(
            check(&three, 4, &plain).unwrap(),
            "127.0.0.1:0".parse::<SocketAddr>().unwrap()
        );
        let with = [listener("PLAINTEXT", 9096), listener("CONTROLLER", 9097)];
        assert_eq!(check(&three, 4, &with).unwrap().port(), 9097);
        let (key, problem) = check(&three, 2, &plain).unwrap_err();
        assert_eq!(key, "controller.quorum.voters");
        assert!(
            problem.contains("node.id 2 is one of the voters"),
            "{problem}"
        );
        let alone = ControllerConfig {
            voters: BTreeMap::new(),
            ..three.clone()
        };
        assert_eq!(
            check(&alone, 4, &plain).unwrap_err().0,
            "controller.quorum.voters"
        );
        let only = [listener("CONTROLLER", 9097)];
        assert_eq!(check(&three, 4, &only).unwrap_err().0, "listeners");
    }

    #[test]
    fn a_node_listens_for_voters_on_its_controller_listener_or_voter_address() {
        let alone = ControllerConfig::default();
        let plain = [listener("PLAINTEXT", 9092)];
        assert_eq!(check(&alone, 1, &plain).unwrap().port(), 0);
        assert_eq!(alone.voter_ids(7), [7]);

        let with = [listener("PLAINTEXT", 9092), listener("CONTROLLER", 9093)];
        assert_eq!(check(&alone, 1, &with).unwrap().port(), 9093);

        let three = ControllerConfig {
            voters: parse_voters("1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293").unwrap(),
            ..ControllerConfig::default()
        };
        assert_eq!(check(&three, 2, &plain).unwrap().port(), 9193);
        assert_eq!(check(&three, 1, &with).unwrap().port(), 9093);
        assert_eq!(three.voter_ids(2), [1, 2, 3]);
        assert_eq!(three.peers(2).keys().copied().collect::<Vec<_>>(), [1, 3]);
        // Another node's address, a node outside the voters, no client listener.
        assert_eq!(
            check(&three, 2, &with).unwrap_err().0,
            "controller.quorum.voters"
        );
        assert_eq!(
            check(&three, 4, &plain).unwrap_err().0,
            "controller.quorum.voters"
        );
        let only = [listener("CONTROLLER", 9093)];
        assert_eq!(check(&three, 1, &only).unwrap_err().0, "listeners");
        // A wildcard controller listener at the voter's port reaches it.
        let wildcard = [
            listener("PLAINTEXT", 9092),
            Listener {
                name: "CONTROLLER".into(),
                host: "0.0.0.0".into(),
                port: 9093,
            },
        ];
        assert_eq!(check(&three, 1, &wildcard).unwrap().port(), 9093);
        assert!(
            check(&three, 2, &wildcard).is_err(),
            "port 9093 is not voter 2's 9193"
        );
    }
}
