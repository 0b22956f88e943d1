//! `rill dev-cluster --nodes N`: a local cluster of N real `rill server` processes on 127.0.0.1,
//! one command. Node `i` (1-based) keeps its data in `<dir>/node-i/`, serves Kafka clients on
//! `base-port + i - 1` and its controller listener on `controller-base-port + i - 1`, and logs
//! to `<dir>/node-i/server.log`. Every node is a voter of one controller quorum. It prints the
//! bootstrap string once every node serves, and stops them all (SIGTERM, then SIGKILL after a
//! grace period) on Ctrl-C or SIGTERM; a node that exits on its own stops the others too.

use std::fs::File;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::args::{Args, Spec};
use super::{CliError, CliResult};

pub const USAGE: &str = "\
USAGE:
    rill dev-cluster [--nodes N] [--dir D] [--base-port P] [--controller-base-port C]
                     [--admin-base-port A] [--override key=value]...

    --nodes N                 how many nodes, 1 to 9 (default 3); each is a voter of the quorum
    --dir D                   where the nodes keep data and logs (default ./rill-cluster)
    --base-port P             node i's Kafka listener is 127.0.0.1:P+i-1 (default 9092)
    --controller-base-port C  node i's controller listener is 127.0.0.1:C+i-1 (default 19092)
    --admin-base-port A       node i's admin endpoint (metrics, health) is 127.0.0.1:A+i-1
                              (default 9644)
    --override key=value      a setting for every node, by its Kafka name (repeatable)

Ctrl-C (or SIGTERM) stops every node cleanly.
";

pub(super) const SPEC: Spec = Spec {
    switches: &[],
    values: &[
        "--nodes",
        "--dir",
        "--base-port",
        "--controller-base-port",
        "--admin-base-port",
    ],
    properties: &["--override"],
};

const NODES_MAX: u16 = 9;
/// How long the nodes get to start serving (a quorum needs a majority up).
const START_WAIT: Duration = Duration::from_secs(60);
/// How long a node gets to stop cleanly after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// One node's place: its id, data directory and ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePlan {
    pub id: u16,
    pub dir: PathBuf,
    pub kafka_port: u16,
    pub controller_port: u16,
    pub admin_port: u16,
}

impl NodePlan {
    /// The `rill server` arguments of this node in a cluster of `voters`.
    pub fn server_args(&self, voters: &str, overrides: &[(String, String)]) -> Vec<String> {
        let mut args = vec![
            "server".to_owned(),
            "--node-id".to_owned(),
            self.id.to_string(),
            "--listeners".to_owned(),
            format!(
                "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                self.kafka_port, self.controller_port
            ),
            "--log-dirs".to_owned(),
            self.dir.join("data").display().to_string(),
            "--override".to_owned(),
            format!("controller.quorum.voters={voters}"),
            "--override".to_owned(),
            format!("admin.listener=127.0.0.1:{}", self.admin_port),
        ];
        for (key, value) in overrides {
            args.extend(["--override".to_owned(), format!("{key}={value}")]);
        }
        args
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }
}

/// The nodes of a cluster of `nodes` under `dir`, and its `controller.quorum.voters`.
pub fn plan(
    nodes: u16,
    dir: &Path,
    base_port: u16,
    controller_base_port: u16,
    admin_base_port: u16,
) -> CliResult<(Vec<NodePlan>, String)> {
    if !(1..=NODES_MAX).contains(&nodes) {
        return Err(CliError::Usage(format!(
            "--nodes must be 1 to {NODES_MAX}, got {nodes}"
        )));
    }
    let port = |base: u16, i: u16, flag: &str| {
        base.checked_add(i - 1)
            .filter(|_| base != 0)
            .ok_or_else(|| {
                CliError::Usage(format!("{flag} {base} leaves no room for {nodes} nodes"))
            })
    };
    let mut plans = Vec::new();
    for id in 1..=nodes {
        plans.push(NodePlan {
            id,
            dir: dir.join(format!("node-{id}")),
            kafka_port: port(base_port, id, "--base-port")?,
            controller_port: port(controller_base_port, id, "--controller-base-port")?,
            admin_port: port(admin_base_port, id, "--admin-base-port")?,
        });
    }
    let all: Vec<u16> = (plans.iter())
        .flat_map(|p| [p.kafka_port, p.controller_port, p.admin_port])
        .collect();
    let distinct: std::collections::BTreeSet<u16> = all.iter().copied().collect();
    if distinct.len() != all.len() {
        return Err(CliError::Usage(
            "the Kafka, controller and admin port ranges overlap".into(),
        ));
    }
    let voters: Vec<String> = (plans.iter())
        .map(|p| format!("{}@127.0.0.1:{}", p.id, p.controller_port))
        .collect();
    Ok((plans, voters.join(",")))
}

pub fn run(raw: &[String]) -> CliResult {
    let args = Args::parse(raw, &SPEC)?;
    let nodes = args.number::<u16>("--nodes")?.unwrap_or(3);
    let dir = PathBuf::from(args.value("--dir").unwrap_or("./rill-cluster"));
    let base_port = args.number::<u16>("--base-port")?.unwrap_or(9092);
    let controller_base_port = args
        .number::<u16>("--controller-base-port")?
        .unwrap_or(19092);
    let admin_base_port = args.number::<u16>("--admin-base-port")?.unwrap_or(9644);
    let (plans, voters) = plan(
        nodes,
        &dir,
        base_port,
        controller_base_port,
        admin_base_port,
    )?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Failed(format!("cannot find the rill binary: {e}")))?;
    // Before any child exists: a signal from here on stops them all.
    let stop = stop_signal()?;
    let mut children: Vec<(NodePlan, Child)> = Vec::new();
    for node in plans {
        match spawn(&exe, &node, &voters, args.properties("--override")) {
            Ok(child) => children.push((node, child)),
            Err(e) => {
                stop_all(&mut children);
                return Err(e);
            }
        }
    }
    let started = wait_serving(&mut children, &stop);
    if let Err(e) = started {
        stop_all(&mut children);
        return Err(e);
    }
    let bootstrap: Vec<String> = (children.iter())
        .map(|(n, _)| format!("127.0.0.1:{}", n.kafka_port))
        .collect();
    println!("bootstrap servers: {}", bootstrap.join(","));
    for (node, child) in &children {
        println!(
            "node {}: pid {}, kafka 127.0.0.1:{}, controller 127.0.0.1:{}, \
             admin http://127.0.0.1:{}/metrics, log {}",
            node.id,
            child.id(),
            node.kafka_port,
            node.controller_port,
            node.admin_port,
            node.log_path().display()
        );
    }
    println!("Ctrl-C stops every node.");
    let outcome = loop {
        if stop.try_recv().is_ok() {
            break Ok(());
        }
        if let Some(exited) = exited(&mut children) {
            break Err(CliError::Failed(exited));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!("stopping every node");
    stop_all(&mut children);
    outcome
}

fn spawn(
    exe: &Path,
    node: &NodePlan,
    voters: &str,
    overrides: &[(String, String)],
) -> CliResult<Child> {
    let failed =
        |what: &str, e: std::io::Error| CliError::Failed(format!("node {}: {what}: {e}", node.id));
    std::fs::create_dir_all(&node.dir).map_err(|e| failed("cannot create its directory", e))?;
    let log = File::create(node.log_path()).map_err(|e| failed("cannot create its log", e))?;
    let err = log
        .try_clone()
        .map_err(|e| failed("cannot share its log", e))?;
    Command::new(exe)
        .args(node.server_args(voters, overrides))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| failed("cannot start", e))
}

/// Ctrl-C or SIGTERM: both handlers are installed before this returns (so neither kills the
/// process from then on), and a thread waits for either.
fn stop_signal() -> CliResult<std::sync::mpsc::Receiver<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = std::sync::mpsc::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    let installed = runtime.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    });
    let (mut interrupt, mut terminate) = installed
        .map_err(|e| CliError::Failed(format!("cannot handle Ctrl-C and SIGTERM: {e}")))?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                biased;
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            let _ = tx.send(());
        })
    });
    Ok(rx)
}

/// Waits until every node's Kafka port accepts connections (each logs `serving` just before).
fn wait_serving(
    children: &mut [(NodePlan, Child)],
    stop: &std::sync::mpsc::Receiver<()>,
) -> CliResult {
    let deadline = Instant::now() + START_WAIT;
    let progress = super::progress::Progress::new(children.len() as u64, "nodes serving");
    for i in 0..children.len() {
        let port = children[i].0.kafka_port;
        progress.set(i as u64, format!("waiting for node {}", children[i].0.id));
        loop {
            if let Some(exited) = exited(children) {
                return Err(CliError::Failed(exited));
            }
            if stop.try_recv().is_ok() {
                return Err(CliError::Failed("stopped while starting".into()));
            }
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let log = children[i].0.log_path();
                return Err(CliError::Failed(format!(
                    "node {} does not serve after {}s; see {}",
                    children[i].0.id,
                    START_WAIT.as_secs(),
                    log.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    progress.finish();
    Ok(())
}

/// The first node that exited, described.
fn exited(children: &mut [(NodePlan, Child)]) -> Option<String> {
    children.iter_mut().find_map(|(node, child)| {
        let status = child.try_wait().ok()??;
        Some(format!(
            "node {} exited ({status}); see {}",
            node.id,
            node.log_path().display()
        ))
    })
}

/// SIGTERM to every node still running, then SIGKILL to any still running after the grace.
fn stop_all(children: &mut [(NodePlan, Child)]) {
    for (_, child) in children.iter_mut() {
        if matches!(child.try_wait(), Ok(None)) {
            // SAFETY: kill(2) on a child's pid, which is ours until we wait for it.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    for (node, child) in children.iter_mut() {
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    println!("node {} stopped ({status})", node.id);
                    break;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    println!("node {} killed after {}s", node.id, STOP_GRACE.as_secs());
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_nodes_get_consecutive_ports_their_own_directories_and_one_voter_list() {
        let (plans, voters) = plan(3, Path::new("c"), 9092, 19092, 9644).unwrap();
        assert_eq!(
            voters,
            "1@127.0.0.1:19092,2@127.0.0.1:19093,3@127.0.0.1:19094"
        );
        let ports: Vec<(u16, u16, u16)> = plans
            .iter()
            .map(|p| (p.kafka_port, p.controller_port, p.admin_port))
            .collect();
        assert_eq!(
            ports,
            [
                (9092, 19092, 9644),
                (9093, 19093, 9645),
                (9094, 19094, 9646)
            ]
        );
        assert_eq!(plans[1].dir, Path::new("c/node-2"));
        let args = plans[1].server_args(&voters, &[("num.partitions".into(), "6".into())]);
        let joined = args.join(" ");
        assert!(joined.starts_with("server --node-id 2 --listeners PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:19093 --log-dirs c/node-2/data"), "{joined}");
        assert!(
            joined.contains("--override admin.listener=127.0.0.1:9645"),
            "{joined}"
        );
        assert!(joined.ends_with("--override num.partitions=6"), "{joined}");
    }

    #[test]
    fn bad_sizes_and_overlapping_ports_are_refused() {
        assert!(plan(0, Path::new("c"), 9092, 19092, 9644).is_err());
        assert!(plan(10, Path::new("c"), 9092, 19092, 9644).is_err());
        assert!(plan(3, Path::new("c"), 9092, 9093, 9644).is_err());
        assert!(plan(3, Path::new("c"), 65534, 19092, 9644).is_err());
        assert!(plan(3, Path::new("c"), 9092, 19092, 19093).is_err());
    }
}
