//! Shared by the integration tests: a real `rill server` process on a free 127.0.0.1 port with
//! its own data directory, killed when dropped.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Passing this "environment variable" to [`RillServer::start_exact_env`] runs the server
/// under `ulimit -n VALUE` instead of setting a variable.
pub const NOFILE_ENV: &str = "RILL_TEST_NOFILE";

pub struct RillServer {
    pub addr: SocketAddr,
    pub data_dir: std::sync::Arc<tempfile::TempDir>,
    child: Child,
    /// Where this process's lines begin in `server.log` (a restart appends to it).
    log_from: usize,
}

/// A port for a test server: one no other test of this process was given, nobody listens on
/// now, and outside Linux's ephemeral range (32768–60999), so that no client socket of another
/// test can take it as its local port while the server is down for a restart. (A port from a
/// `bind(0)` can be handed out again at once, and a server then found its port taken and a
/// readiness probe reached another test's server: a flaky CI run.)
pub fn free_port() -> u16 {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000; // 20000..32000
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    // Each test process starts at its own place (by pid) so that concurrent test binaries
    // rarely probe the same ports; the bind below settles any overlap.
    let start = (std::process::id().wrapping_mul(7_919) + given.len() as u32 * 101) % SPAN;
    for step in 0..SPAN {
        let port = (LOW + (start + step * 37) % SPAN) as u16;
        if given.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN);
}

/// Starts a cluster of `size` nodes, each broker and controller voter (node ids 1..=size), with
/// `extra` flags on every node, and waits until each serves. A node's PLAINTEXT listener is
/// its `addr`; its controller listener another free port.
pub fn start_quorum(size: usize, extra: &[&str]) -> Vec<RillServer> {
    let controllers: Vec<u16> = (0..size).map(|_| free_port()).collect();
    let voters: Vec<String> = (controllers.iter().enumerate())
        .map(|(i, port)| format!("{}@127.0.0.1:{port}", i + 1))
        .collect();
    let voters = format!("controller.quorum.voters={}", voters.join(","));
    let mut servers: Vec<RillServer> = (0..size)
        .map(|i| {
            let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
            let kafka: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let listeners = format!(
                "PLAINTEXT://{kafka},CONTROLLER://127.0.0.1:{}",
                controllers[i]
            );
            let id = (i + 1).to_string();
            let log_dirs = dir.path().display().to_string();
            let mut args = vec![
                "--node-id",
                id.as_str(),
                "--listeners",
                listeners.as_str(),
                "--log-dirs",
                log_dirs.as_str(),
                "--override",
                voters.as_str(),
                "--override",
                "controller.quorum.election.timeout.ms=500",
            ];
            args.extend_from_slice(extra);
            RillServer::spawn_exact_env(dir, kafka, &args, &[])
        })
        .collect();
    for server in &mut servers {
        server.wait_serving(Duration::from_secs(30));
    }
    servers
}

/// The line `rill server` logs once every listener is bound and it takes clients.
const SERVING: &str = ": serving";

impl RillServer {
    /// Starts `rill server` with extra flags and waits until it accepts connections.
    pub fn start(extra_args: &[&str]) -> Self {
        let data_dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        Self::start_with(data_dir, addr, extra_args)
    }

    /// [`Self::start`] under a descriptor limit of `nofile` (soft and hard).
    pub fn start_limited(nofile: u64, extra_args: &[&str]) -> Self {
        let data_dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        Self::start_limited_on(data_dir, addr, nofile, extra_args)
    }

    /// `kill -9`s this server and starts it again on the same data under `nofile`.
    pub fn restart_limited(mut self, nofile: u64, extra_args: &[&str]) -> Self {
        let _ = self.child.kill();
        let _ = self.child.wait();
        Self::start_limited_on(self.data_dir.clone(), self.addr, nofile, extra_args)
    }

    fn start_limited_on(
        data_dir: std::sync::Arc<tempfile::TempDir>,
        addr: SocketAddr,
        nofile: u64,
        extra_args: &[&str],
    ) -> Self {
        let listeners = format!("PLAINTEXT://{addr}");
        let dir = data_dir.path().to_str().unwrap().to_string();
        let mut args = vec!["--listeners", &listeners, "--log-dirs", &dir];
        args.extend_from_slice(extra_args);
        let limit = nofile.to_string();
        Self::start_exact_env(data_dir, addr, &args, &[(NOFILE_ENV, &limit)])
    }

    /// Descriptors the server process has open now (`/proc/<pid>/fd`).
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Resident memory of the server process in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `kill -9`s this server and starts a new one on the same address and data directory.
    pub fn restart(mut self, extra_args: &[&str]) -> Self {
        let _ = self.child.kill();
        let _ = self.child.wait();
        Self::start_with(self.data_dir.clone(), self.addr, extra_args)
    }

    fn start_with(
        data_dir: std::sync::Arc<tempfile::TempDir>,
        addr: SocketAddr,
        extra_args: &[&str],
    ) -> Self {
        let listeners = format!("PLAINTEXT://{addr}");
        let dir = data_dir.path().to_str().unwrap().to_string();
        let mut args = vec!["--listeners", &listeners, "--log-dirs", &dir];
        args.extend_from_slice(extra_args);
        Self::start_exact(data_dir, addr, &args)
    }

    /// Starts `rill server ARGS` with exactly these arguments (no `--listeners` or `--log-dirs`
    /// added: the test's config says where), logging to `server.log` in `data_dir`, and waits
    /// until `addr` accepts connections.
    pub fn start_exact(
        data_dir: std::sync::Arc<tempfile::TempDir>,
        addr: SocketAddr,
        args: &[&str],
    ) -> Self {
        Self::start_exact_env(data_dir, addr, args, &[])
    }

    /// [`Self::start_exact`] with extra environment variables for the server process.
    pub fn start_exact_env(
        data_dir: std::sync::Arc<tempfile::TempDir>,
        addr: SocketAddr,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut server = Self::spawn_exact_env(data_dir, addr, args, env);
        server.wait_serving(Duration::from_secs(10));
        server
    }

    /// Starts `rill server ARGS` without waiting for it to serve (a node of a cluster serves
    /// only once a majority of the voters is up); see [`Self::wait_serving`].
    pub fn spawn_exact_env(
        data_dir: std::sync::Arc<tempfile::TempDir>,
        addr: SocketAddr,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let log_path = data_dir.path().join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        // Where this start's lines begin in the log (a restart appends to it).
        let log_from = log.metadata().map_or(0, |m| m.len() as usize);
        let nofile = env
            .iter()
            .find(|(k, _)| *k == NOFILE_ENV)
            .map(|(_, v)| v.to_string());
        let env: Vec<(&str, &str)> = env
            .iter()
            .copied()
            .filter(|(k, _)| *k != NOFILE_ENV)
            .collect();
        let mut command = match &nofile {
            // The descriptor limit is lowered by a shell before exec, so the server starts with
            // it as both its soft and hard limit (it cannot raise it back).
            Some(limit) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_rill"));
                sh
            }
            None => Command::new(env!("CARGO_BIN_EXE_rill")),
        };
        // The readiness check reads the info line "serving": whatever level the test asks
        // for, that line stays on.
        let level = env
            .iter()
            .find(|(k, _)| *k == "RUST_LOG")
            .map_or("info", |(_, v)| *v);
        let env: Vec<(&str, &str)> = env
            .iter()
            .copied()
            .filter(|(k, _)| *k != "RUST_LOG")
            .collect();
        command.env("RUST_LOG", format!("{level},rill::host::server=info"));
        let child = command
            .arg("server")
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("rill server starts");
        Self {
            addr,
            data_dir,
            child,
            log_from,
        }
    }

    /// Waits (up to `within`) until *this* process says it is serving and `addr` accepts: a
    /// connection alone could reach another process that holds the port.
    pub fn wait_serving(&mut self, within: Duration) {
        let log_path = self.data_dir.path().join("server.log");
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("rill server exited with {status}: {}", self.log());
            }
            let said = std::fs::read(&log_path).unwrap_or_default();
            let serving = said
                .get(self.log_from..)
                .is_some_and(|new| String::from_utf8_lossy(new).contains(SERVING));
            if serving && TcpStream::connect(self.addr).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "rill server did not serve on {}: {}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("server.log")).unwrap_or_default()
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }
}

impl RillServer {
    /// Sends SIGTERM and waits (up to 20 s) for the process to exit; returns its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "rill server ignored SIGTERM: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a new server on the same address and data directory (after `terminate`).
    pub fn start_again(&self, extra_args: &[&str]) -> Self {
        Self::start_with(self.data_dir.clone(), self.addr, extra_args)
    }
}

/// Runs `rill server ARGS`, which must exit within `within` (a start-up refusal); returns its
/// exit code and standard error.
pub fn server_exit(args: &[&str], within: Duration) -> (Option<i32>, String) {
    let stderr_path = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rill"))
        .arg("server")
        .args(args)
        .stdout(Stdio::null())
        .stderr(stderr_path.reopen().unwrap())
        .spawn()
        .expect("rill server starts");
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "rill server {} still running after {within:?}: {}",
                args.join(" "),
                std::fs::read_to_string(stderr_path.path()).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(stderr_path.path()).unwrap();
    (status.code(), stderr)
}

impl Drop for RillServer {
    fn drop(&mut self) {
        // A failing test shows what its server said: the first thing one asks of a flaky run.
        if std::thread::panicking() {
            eprintln!("--- rill server {} log ---\n{}", self.addr, self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one request with kafka-protocol's encoders and decodes the answer.
pub fn call<Req, Resp>(
    stream: &mut TcpStream,
    key: kafka_protocol::messages::ApiKey,
    version: i16,
    request: &Req,
) -> Resp
where
    Req: kafka_protocol::protocol::Encodable,
    Resp: kafka_protocol::protocol::Decodable,
{
    use bytes::Buf;
    use kafka_protocol::messages::{RequestHeader, ResponseHeader};
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
    use std::io::{Read, Write};
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(42)
        .with_client_id(Some(StrBytes::from_static_str("rill-test")));
    let mut body = bytes::BytesMut::new();
    header
        .encode(&mut body, key.request_header_version(version))
        .unwrap();
    request.encode(&mut body, version).unwrap();
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame).unwrap();
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).expect("a response");
    let mut answer = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut answer).unwrap();
    let mut answer = bytes::Bytes::from(answer);
    let header = ResponseHeader::decode(&mut answer, key.response_header_version(version)).unwrap();
    assert_eq!(header.correlation_id, 42);
    let response = Resp::decode(&mut answer, version).unwrap();
    assert_eq!(answer.remaining(), 0, "the whole response was decoded");
    response
}

pub fn topic_name(topic: &str) -> kafka_protocol::messages::TopicName {
    kafka_protocol::messages::TopicName(kafka_protocol::protocol::StrBytes::from_string(
        topic.to_string(),
    ))
}

/// Creates `topic` with `partitions` partitions (CreateTopics v7); asserts it worked.
pub fn create_topic(stream: &mut TcpStream, topic: &str, partitions: i32) {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::{ApiKey, CreateTopicsRequest, CreateTopicsResponse};
    let created: CreateTopicsResponse = call(
        stream,
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_topics(vec![CreatableTopic::default()
                .with_name(topic_name(topic))
                .with_num_partitions(partitions)
                .with_replication_factor(1)])
            .with_timeout_ms(5000),
    );
    assert_eq!(created.topics[0].error_code, 0);
}

/// Produces one record to partition 0 of `topic` with acks=all; returns its offset.
pub fn produce(stream: &mut TcpStream, topic: &str, value: &[u8]) -> i64 {
    let (error_code, base_offset) = produce_values(stream, topic, &[value], 5000);
    assert_eq!(error_code, 0);
    base_offset
}

/// Produces `values` as one batch to partition 0 of `topic` with acks=all and the produce
/// timeout `timeout_ms`; returns the partition's (error code, base offset).
pub fn produce_values(
    stream: &mut TcpStream,
    topic: &str,
    values: &[&[u8]],
    timeout_ms: i32,
) -> (i16, i64) {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse};
    let records: Vec<(Option<&[u8]>, &[u8])> = values
        .iter()
        .map(|value| (Some(b"k".as_slice()), *value))
        .collect();
    let records = rill::storage::batch::build_batch(&records, 1_700_000_000_000);
    let data = PartitionProduceData::default()
        .with_index(0)
        .with_records(Some(records.into()));
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(timeout_ms)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(topic))
            .with_partition_data(vec![data])]);
    let response: ProduceResponse = call(stream, ApiKey::Produce, 9, &request);
    let partition = &response.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
}

/// Fetches partition 0 of `topic` from offset 0: (high watermark, bytes of records returned).
pub fn fetch_all(stream: &mut TcpStream, topic: &str) -> (i64, usize) {
    let (error_code, high_watermark, records) = fetch_from(stream, topic, 0);
    assert_eq!(error_code, 0);
    (high_watermark, records.len())
}

/// Fetches partition 0 of `topic` from `offset` (up to 1 MiB): (error code, high watermark,
/// the record batches returned; the last one may be cut short).
pub fn fetch_from(stream: &mut TcpStream, topic: &str, offset: i64) -> (i16, i64, bytes::Bytes) {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse};
    let partition = FetchPartition::default()
        .with_partition(0)
        .with_fetch_offset(offset)
        .with_partition_max_bytes(1 << 20);
    let request = FetchRequest::default()
        .with_max_wait_ms(100)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![partition])]);
    let response: FetchResponse = call(stream, ApiKey::Fetch, 12, &request);
    let data = &response.responses[0].partitions[0];
    (
        data.error_code,
        data.high_watermark,
        data.records.clone().unwrap_or_default(),
    )
}

/// A bystander's produce of `value` to partition 0 of `topic` and fetch back, on a fresh
/// connection; asserts the record is there and the round trip took less than `bound`.
pub fn bystander_round_trip_within(
    server: &RillServer,
    topic: &str,
    value: &[u8],
    bound: Duration,
) {
    let started = std::time::Instant::now();
    let mut stream = server.connect();
    let offset = produce(&mut stream, topic, value);
    let (high_watermark, bytes) = fetch_all(&mut stream, topic);
    assert!(high_watermark > offset && bytes > 0);
    let took = started.elapsed();
    assert!(took < bound, "bystander round trip took {took:?}");
}

/// Asks again while the answer's `code` is a coordinator's retriable one
/// (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
/// CONCURRENT_TRANSACTIONS), for at most 30 s; the last answer.
pub fn until_settled<R>(mut ask: impl FnMut() -> R, code: impl Fn(&R) -> i16) -> R {
    const RETRIED: [i16; 4] = [14, 15, 16, 51];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = ask();
        if !RETRIED.contains(&code(&answer)) || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
