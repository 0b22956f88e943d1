//! The client tools (`rill topics`, `console-producer`, `console-consumer`, `consumer-groups`,
//! `transactions`, `perf`) as users run them: real processes against a real `rill server`, cross-checked with
//! kcat (librdkafka), so what one client writes the other reads, keyed records land on the same
//! partition (murmur2) whichever wrote them, and a group member resumes where a reset put it. kcat is required: without it these tests fail.
#![cfg(not(madsim))]
#![allow(clippy::disallowed_methods)] // tests may read the clock and spawn threads

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{until_settled, RillServer};
use rill::cli::client::murmur2::partition_for_key;

/// Longest any one tool run may take before the test calls it hung.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `program args` with `stdin`, killing it after [`TOOL_TIMEOUT`].
fn run(program: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (kcat must be installed)"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let deadline = Instant::now() + TOOL_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{program} {args:?} did not finish within {TOOL_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    writer.join().unwrap();
    child.wait_with_output().unwrap()
}

fn rill(args: &[&str], stdin: &str) -> Output {
    run(env!("CARGO_BIN_EXE_rill"), args, stdin)
}

fn kcat(args: &[&str], stdin: &str) -> Output {
    run("kcat", args, stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts success and returns stdout.
fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Asserts exit code `code` and returns stderr.
fn fails(output: Output, code: i32) -> String {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stderr)
}

fn create_topic(bootstrap: &str, topic: &str, partitions: u32) {
    let partitions = partitions.to_string();
    let out = ok(rill(
        &[
            "topics",
            "--bootstrap-server",
            bootstrap,
            "--create",
            "--topic",
            topic,
            "--partitions",
            &partitions,
            "--replication-factor",
            "1",
        ],
        "",
    ));
    assert_eq!(out, format!("Created topic {topic}.\n"));
}

#[test]
fn topics_create_list_describe_alter_delete_and_errors() {
    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    let topics = |extra: &[&str]| {
        let mut args = vec!["topics", "--bootstrap-server", b.as_str()];
        args.extend_from_slice(extra);
        rill(&args, "")
    };
    let create = [
        "--create",
        "--topic",
        "orders",
        "--partitions",
        "3",
        "--replication-factor",
        "1",
        "--config",
        "retention.ms=60000",
    ];
    assert_eq!(ok(topics(&create)), "Created topic orders.\n");
    let err = fails(topics(&create), 1);
    assert_eq!(
        err.trim(),
        "Error: TOPIC_ALREADY_EXISTS: topic 'orders' already exists"
    );
    let mut tolerant = create.to_vec();
    tolerant.push("--if-not-exists");
    assert_eq!(ok(topics(&tolerant)), "");
    create_topic(&b, "audit", 1);
    assert_eq!(ok(topics(&["--list"])), "audit\norders\n");

    let described = ok(topics(&["--describe", "--topic", "orders"]));
    let lines: Vec<&str> = described.lines().collect();
    assert_eq!(lines.len(), 4, "{described}");
    assert!(
        lines[0].starts_with("Topic: orders\tTopicId: "),
        "{described}"
    );
    assert!(
        lines[0]
            .ends_with("\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention.ms=60000"),
        "{described}"
    );
    assert_eq!(
        lines[2],
        "\tTopic: orders\tPartition: 1\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: \tLastKnownElr: "
    );
    let everything = ok(topics(&["--describe"]));
    assert!(everything.contains("Topic: audit\t") && everything.contains("Topic: orders\t"));

    let err = fails(topics(&["--describe", "--topic", "missing"]), 1);
    assert_eq!(
        err.trim(),
        "Error: UNKNOWN_TOPIC_OR_PARTITION: topic 'missing' does not exist"
    );

    ok(topics(&[
        "--alter",
        "--topic",
        "orders",
        "--partitions",
        "5",
    ]));
    let described = ok(topics(&["--describe", "--topic", "orders"]));
    assert!(described.contains("PartitionCount: 5"), "{described}");
    assert!(
        described.contains("\tPartition: 4\tLeader: 1"),
        "{described}"
    );
    let err = fails(
        topics(&["--alter", "--topic", "orders", "--partitions", "2"]),
        1,
    );
    assert!(err.starts_with("Error: INVALID_PARTITIONS: "), "{err}");

    assert_eq!(
        ok(topics(&["--delete", "--topic", "orders"])),
        "Deleted topic orders.\n"
    );
    assert_eq!(ok(topics(&["--list"])), "audit\n");
    let err = fails(topics(&["--delete", "--topic", "orders"]), 1);
    assert!(
        err.starts_with("Error: UNKNOWN_TOPIC_OR_PARTITION: "),
        "{err}"
    );
    ok(topics(&["--delete", "--topic", "orders", "--if-exists"]));

    // Usage errors exit 2 and print the usage; an unreachable broker is a failure (1).
    let err = fails(topics(&["--list", "--describe"]), 2);
    assert!(
        err.contains("give exactly one of") && err.contains("USAGE:"),
        "{err}"
    );
    let err = fails(
        topics(&["--create", "--topic", "x", "--partitions", "0"]),
        2,
    );
    assert!(err.contains("--partitions must be at least 1"), "{err}");
    let err = fails(
        rill(
            &["topics", "--bootstrap-server", "127.0.0.1:1", "--list"],
            "",
        ),
        1,
    );
    assert!(
        err.starts_with("Error: cannot connect to 127.0.0.1:1"),
        "{err}"
    );
}

/// The partition of each `key:value` line as kcat reports it (`%p %k:%s`).
fn partitions_by_line(kcat_output: &str) -> BTreeMap<String, i32> {
    kcat_output
        .lines()
        .map(|l| {
            let (p, record) = l.split_once(' ').expect("'%p %k:%s'");
            (record.to_string(), p.parse().unwrap())
        })
        .collect()
}

#[test]
fn console_producer_writes_what_kcat_reads_on_the_murmur2_partitions() {
    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    create_topic(&b, "keyed", 4);
    let input: String = (0..200)
        .map(|i| format!("user-{}:event-{i}\n", i % 17))
        .collect();
    let out = rill(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "keyed",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
            "--producer-property",
            "acks=all",
            "linger.ms=20",
        ],
        &input,
    );
    ok(out);
    let read = ok(kcat(
        &[
            "-C",
            "-b",
            &b,
            "-t",
            "keyed",
            "-e",
            "-q",
            "-f",
            "%p %k:%s\n",
        ],
        "",
    ));
    let by_line = partitions_by_line(&read);
    assert_eq!(by_line.len(), 200, "{read}");
    for line in input.lines() {
        let key = line.split_once(':').unwrap().0;
        assert_eq!(
            by_line.get(line),
            Some(&partition_for_key(key.as_bytes(), 4)),
            "{line}"
        );
    }
    // Per partition, kcat sees the lines in the order they were typed.
    for partition in 0..4 {
        let seen: Vec<&str> = read
            .lines()
            .filter(|l| l.starts_with(&format!("{partition} ")))
            .map(|l| l.split_once(' ').unwrap().1)
            .collect();
        let typed: Vec<&str> = input.lines().filter(|l| by_line[*l] == partition).collect();
        assert_eq!(seen, typed);
    }
}

#[test]
fn what_kcat_produces_the_console_consumer_prints() {
    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    create_topic(&b, "from-kcat", 3);
    let input: String = (0..60).map(|i| format!("k{}:v{i}\n", i % 7)).collect();
    ok(kcat(
        &[
            "-P",
            "-b",
            &b,
            "-t",
            "from-kcat",
            "-K:",
            "-X",
            "partitioner=murmur2_random",
        ],
        &input,
    ));
    let printed = ok(rill(
        &[
            "console-consumer",
            "--bootstrap-server",
            &b,
            "--topic",
            "from-kcat",
            "--from-beginning",
            "--max-messages",
            "60",
            "--property",
            "print.key=true",
            "print.partition=true",
            "--property",
            "key.separator=:",
        ],
        "",
    ));
    let mut lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 60, "{printed}");
    for line in &lines {
        let (partition, rest) = line
            .split_once(':')
            .map(|(_, r)| r.split_once(':').unwrap())
            .unwrap();
        let key = rest.split_once(':').unwrap().0;
        assert_eq!(
            partition.parse::<i32>().unwrap(),
            partition_for_key(key.as_bytes(), 3),
            "kcat (murmur2_random) and rill agree on {line}"
        );
    }
    lines.sort();
    let mut expected: Vec<String> = input
        .lines()
        .map(|l| {
            let key = l.split_once(':').unwrap().0;
            format!("Partition:{}:{l}", partition_for_key(key.as_bytes(), 3))
        })
        .collect();
    expected.sort();
    assert_eq!(lines, expected);
}

#[test]
fn console_tools_options_errors_and_stops() {
    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    create_topic(&b, "lines", 2);
    create_topic(&b, "plain", 2);
    // A line without the separator fails alone: reported by line number, exit 1.
    let out = rill(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "lines",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ],
        "a:1\nno separator\nb:2\n",
    );
    let err = fails(out, 1);
    assert!(
        err.contains("line 2: no key separator ':' (parse.key=true)\n"),
        "{err}"
    );
    assert!(err.contains("1 of 3 records were not produced"), "{err}");
    // Unkeyed lines to an explicit partition, acks=1.
    ok(rill(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "plain",
            "--partition",
            "1",
            "--producer-property",
            "acks=1",
        ],
        "x\ny\nz\n",
    ));
    let consume = |extra: &[&str]| {
        let mut args = vec![
            "console-consumer",
            "--bootstrap-server",
            b.as_str(),
            "--topic",
            "plain",
        ];
        args.extend_from_slice(extra);
        rill(&args, "")
    };
    let printed = ok(consume(&[
        "--partition",
        "1",
        "--offset",
        "1",
        "--timeout-ms",
        "1000",
        "--property",
        "print.offset=true",
    ]));
    assert_eq!(printed, "Offset:1\ty\nOffset:2\tz\n");
    // --timeout-ms ends a consumer that sees nothing new; from latest there is nothing.
    let started = Instant::now();
    assert_eq!(ok(consume(&["--timeout-ms", "500"])), "");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Timestamps are CreateTime.
    let printed = ok(consume(&[
        "--from-beginning",
        "--max-messages",
        "1",
        "--partition",
        "1",
        "--property",
        "print.timestamp=true",
    ]));
    assert!(printed.starts_with("CreateTime:"), "{printed}");
    assert!(printed.ends_with("\tx\n"), "{printed}");
    // A group assigns the partitions and the offsets: --partition does not go with it.
    let err = fails(consume(&["--group", "g1", "--partition", "0"]), 2);
    assert!(
        err.contains("--group cannot be used with --partition or --offset"),
        "{err}"
    );
    let err = fails(consume(&["--offset", "3"]), 2);
    assert!(err.contains("--offset needs --partition"), "{err}");
    let err = fails(
        rill(
            &[
                "console-producer",
                "--bootstrap-server",
                &b,
                "--topic",
                "lines",
                "--producer-property",
                "compression.type=gzip",
            ],
            "",
        ),
        2,
    );
    assert!(
        err.contains("compression.type=gzip is not supported"),
        "{err}"
    );
}

/// The topics the server holds, by `rill topics --list`.
fn topic_list(bootstrap: &str) -> String {
    ok(rill(
        &["topics", "--bootstrap-server", bootstrap, "--list"],
        "",
    ))
}

#[test]
fn a_bad_topic_name_is_explained_before_any_broker_is_contacted() {
    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    let explained = "topic name 'bad name' is illegal: it contains ' '; only ASCII letters, \
                     digits, '.', '_' and '-' are allowed";
    // Against the real server, then against a port where nothing listens: the same answer,
    // so the tools never needed a broker to give it.
    for bootstrap in [b.as_str(), "127.0.0.1:1"] {
        let tools: [(&str, Vec<&str>); 3] = [
            (
                "topics",
                vec![
                    "topics",
                    "--create",
                    "--topic",
                    "bad name",
                    "--partitions",
                    "1",
                ],
            ),
            (
                "console-producer",
                vec!["console-producer", "--topic", "bad name"],
            ),
            (
                "perf",
                vec![
                    "perf",
                    "produce",
                    "--topic",
                    "bad name",
                    "--num-records",
                    "1",
                ],
            ),
        ];
        for (tool, mut args) in tools {
            args.extend(["--bootstrap-server", bootstrap]);
            let err = fails(rill(&args, "a record\n"), 2);
            assert!(
                err.starts_with(&format!("rill {tool}: {explained}\n")),
                "{bootstrap} {args:?}: {err}"
            );
        }
    }
    // A reading tool asks the broker, and its refusal is explained the same way.
    let err = fails(
        rill(
            &[
                "console-consumer",
                "--bootstrap-server",
                &b,
                "--topic",
                "bad name",
            ],
            "",
        ),
        1,
    );
    assert_eq!(
        err,
        format!("Error: INVALID_TOPIC_EXCEPTION: {explained}\n")
    );
    assert_eq!(topic_list(&b), "", "no topic was created");
}

#[test]
fn console_producer_input_without_a_valid_line_creates_no_topic() {
    // Auto-creation is on (the default): the first valid record creates the topic.
    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    let produce = |input: &str| {
        rill(
            &[
                "console-producer",
                "--bootstrap-server",
                &b,
                "--topic",
                "fresh",
                "--property",
                "parse.key=true",
                "--property",
                "key.separator=:",
            ],
            input,
        )
    };
    let err = fails(produce("no separator\nnor here\n"), 1);
    assert_eq!(
        err,
        "line 1: no key separator ':' (parse.key=true)\n\
         line 2: no key separator ':' (parse.key=true)\n\
         Error: 2 of 2 records were not produced\n"
    );
    assert_eq!(
        topic_list(&b),
        "",
        "rejected lines must not create the topic"
    );
    // Empty input makes no record either.
    ok(produce(""));
    assert_eq!(topic_list(&b), "");
    // A bad line before a good one: the good one creates the topic and is the only record.
    let err = fails(produce("bad\nk:v\n"), 1);
    assert!(
        err.starts_with("line 1: no key separator ':' (parse.key=true)\n"),
        "{err}"
    );
    assert!(err.contains("1 of 2 records were not produced"), "{err}");
    assert_eq!(topic_list(&b), "fresh\n");
    let printed = ok(rill(
        &[
            "console-consumer",
            "--bootstrap-server",
            &b,
            "--topic",
            "fresh",
            "--from-beginning",
            "--timeout-ms",
            "1000",
            "--property",
            "print.key=true",
        ],
        "",
    ));
    assert_eq!(printed, "k\tv\n");
}

#[test]
fn perf_produce_and_consume_report_their_final_lines() {
    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    create_topic(&b, "perf", 1);
    let out = ok(rill(
        &[
            "perf",
            "produce",
            "--bootstrap-server",
            &b,
            "--topic",
            "perf",
            "--num-records",
            "3000",
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--producer-property",
            "acks=1",
            "linger.ms=2",
            "batch.size=8192",
        ],
        "",
    ));
    let last = out.lines().last().unwrap_or_default();
    assert!(last.starts_with("3000 records sent, "), "{out}");
    for part in [
        "records/sec",
        "MB/sec",
        "latency avg",
        "p50",
        "p95",
        "p99 ",
        "p99.9",
        "max",
    ] {
        assert!(last.contains(part), "{part} missing: {last}");
    }
    let out = ok(rill(
        &[
            "perf",
            "consume",
            "--bootstrap-server",
            &b,
            "--topic",
            "perf",
            "--messages",
            "3000",
        ],
        "",
    ));
    assert!(out.starts_with("3000 records consumed (0.29 MB)"), "{out}");
    assert!(
        out.contains("records/sec") && out.contains("MB/sec"),
        "{out}"
    );
    // As a group member: 1000 records, committed; a second run resumes after them.
    let group_consume = |messages: &str| {
        rill(
            &[
                "perf",
                "consume",
                "--bootstrap-server",
                &b,
                "--topic",
                "perf",
                "--messages",
                messages,
                "--group",
                "perf-group",
                "--timeout-ms",
                "3000",
            ],
            "",
        )
    };
    let out = ok(group_consume("1000"));
    assert!(out.starts_with("1000 records consumed (0.10 MB)"), "{out}");
    assert_eq!(
        group_offsets(&b, "perf-group")[&("perf".to_string(), 0)],
        [1000, 3000, 2000]
    );
    let out = ok(group_consume("2000"));
    assert!(out.starts_with("2000 records consumed (0.19 MB)"), "{out}");
    // Nothing is left for the group: the run ends after its timeout, short of its count.
    let err = fails(group_consume("1"), 1);
    assert!(err.contains("only 0 of 1 records arrived"), "{err}");
    let out = ok(rill(
        &[
            "perf",
            "e2e",
            "--bootstrap-server",
            &b,
            "--topic",
            "perf",
            "--rate",
            "200",
            "--seconds",
            "1",
        ],
        "",
    ));
    assert!(out.starts_with("e2e: 200 of 200 records consumed"), "{out}");
    assert!(out.contains("end-to-end latency avg"), "{out}");
}

/// `rill consumer-groups --describe` as `(topic, partition)` → `[CURRENT-OFFSET, LOG-END-OFFSET,
/// LAG]`, after checking the header and the "-" of the member columns.
fn group_offsets(bootstrap: &str, group: &str) -> BTreeMap<(String, i32), [i64; 3]> {
    let out = ok(rill(
        &[
            "consumer-groups",
            "--bootstrap-server",
            bootstrap,
            "--describe",
            "--group",
            group,
        ],
        "",
    ));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(""), "{out}");
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID"
        ]
    );
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells[0], group, "{out}");
            assert_eq!(cells[6..], ["-", "-", "-"], "{out}");
            let number = |i: usize| cells[i].parse::<i64>().unwrap();
            (
                (cells[1].to_string(), number(2) as i32),
                [number(3), number(4), number(5)],
            )
        })
        .collect()
}

/// `rill consumer-groups --reset-offsets` with `extra` flags: `(topic, partition)` → NEW-OFFSET.
fn reset_offsets(bootstrap: &str, group: &str, extra: &[&str]) -> BTreeMap<(String, i32), i64> {
    let mut args = vec![
        "consumer-groups",
        "--bootstrap-server",
        bootstrap,
        "--reset-offsets",
        "--group",
        group,
    ];
    args.extend_from_slice(extra);
    let out = ok(rill(&args, ""));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(""), "{out}");
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]);
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells[0], group, "{out}");
            (
                (cells[1].to_string(), cells[2].parse().unwrap()),
                cells[3].parse().unwrap(),
            )
        })
        .collect()
}

/// A librdkafka group member (`kcat -G`) reads `count` records from its group's commits and
/// commits at exit: the `(partition, offset)` of each.
fn kcat_group_reads(bootstrap: &str, group: &str, topic: &str, count: usize) -> Vec<(i32, i64)> {
    let count = count.to_string();
    let out = ok(kcat(
        &[
            "-b", bootstrap, "-G", group, "-c", &count, "-q", "-f", "%p %o\n", topic,
        ],
        "",
    ));
    out.lines()
        .map(|l| {
            let (p, o) = l.split_once(' ').unwrap();
            (p.parse().unwrap(), o.parse().unwrap())
        })
        .collect()
}

#[test]
fn consumer_groups_reset_offsets_and_a_real_member_resumes_there() {
    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    let topic = "cg";
    let group = "cg-group";
    create_topic(&b, topic, 2);
    let tp = |p: i32| (topic.to_string(), p);
    let produce = |partition: &str, n: usize| {
        let lines: String = (0..n).map(|i| format!("v{i}\n")).collect();
        ok(rill(
            &[
                "console-producer",
                "--bootstrap-server",
                &b,
                "--topic",
                topic,
                "--partition",
                partition,
            ],
            &lines,
        ));
    };
    produce("0", 30);
    produce("1", 4);

    let cg = |extra: &[&str]| {
        let mut args = vec!["consumer-groups", "--bootstrap-server", b.as_str()];
        args.extend_from_slice(extra);
        rill(&args, "")
    };
    // No group yet (and no `__consumer_offsets`): --list prints nothing and succeeds, as
    // kafka-consumer-groups does.
    assert_eq!(ok(cg(&["--list"])), "");
    // A group that does not exist yet: Kafka's note on stderr, no table, exit 0.
    let out = cg(&["--describe", "--group", group]);
    assert_eq!(
        text(&out.stderr),
        format!("Error: Consumer group '{group}' does not exist.\n")
    );
    assert_eq!(ok(out), "");
    assert_eq!(ok(cg(&["--list"])), "");

    // --to-latest commits each log end: no lag.
    let plan = reset_offsets(&b, group, &["--topic", topic, "--to-latest", "--execute"]);
    assert_eq!(plan, BTreeMap::from([(tp(0), 30), (tp(1), 4)]));
    assert_eq!(
        group_offsets(&b, group),
        BTreeMap::from([(tp(0), [30, 30, 0]), (tp(1), [4, 4, 0])])
    );

    // --shift-by -10 clamps at the log start; the dry run (the default) changes nothing.
    let shift = ["--all-topics", "--shift-by", "-10"];
    let plan = reset_offsets(&b, group, &shift);
    assert_eq!(plan, BTreeMap::from([(tp(0), 20), (tp(1), 0)]));
    assert_eq!(group_offsets(&b, group)[&tp(0)], [30, 30, 0]);
    let plan = reset_offsets(&b, group, &[&shift[..], &["--execute"]].concat());
    assert_eq!(plan, BTreeMap::from([(tp(0), 20), (tp(1), 0)]));
    assert_eq!(
        group_offsets(&b, group),
        BTreeMap::from([(tp(0), [20, 30, 10]), (tp(1), [0, 4, 4])])
    );

    // A real member (librdkafka) resumes exactly there: the 14 records the reset gave back.
    let mut read = kcat_group_reads(&b, group, topic, 14);
    read.sort();
    let expected: Vec<(i32, i64)> = (20..30)
        .map(|o| (0, o))
        .chain((0..4).map(|o| (1, o)))
        .collect();
    assert_eq!(read, expected);
    assert_eq!(
        group_offsets(&b, group),
        BTreeMap::from([(tp(0), [30, 30, 0]), (tp(1), [4, 4, 0])]),
        "kcat commits what it read at exit"
    );

    // --to-earliest on one partition, --to-offset clamped to the log end on the other.
    let plan = reset_offsets(
        &b,
        group,
        &["--topic", "cg:0", "--to-earliest", "--execute"],
    );
    assert_eq!(plan, BTreeMap::from([(tp(0), 0)]));
    let plan = reset_offsets(
        &b,
        group,
        &["--topic", "cg:1", "--to-offset", "99", "--execute"],
    );
    assert_eq!(plan, BTreeMap::from([(tp(1), 4)]));
    let mut read = kcat_group_reads(&b, group, topic, 30);
    read.sort();
    assert_eq!(read, (0..30).map(|o| (0, o)).collect::<Vec<_>>());

    // The group, listed and described: Empty (kcat has left), no members.
    assert_eq!(ok(cg(&["--list"])), format!("{group}\n"));
    let out = ok(cg(&["--list", "--state"]));
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows, [vec![], vec!["GROUP", "STATE"], vec![group, "Empty"]]);
    let out = cg(&["--describe", "--group", group, "--state"]);
    assert_eq!(text(&out.stderr), "");
    let out = ok(out);
    let row: Vec<&str> = out.lines().nth(2).unwrap().split_whitespace().collect();
    assert_eq!(row, [group, &b, "(1)", "-", "Empty", "0"], "{out}");
    let out = cg(&["--describe", "--group", group, "--members"]);
    assert!(text(&out.stderr).contains("has no active members"));
    assert_eq!(
        ok(out)
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"]
    );

    // Usage errors exit 2 before any broker is contacted; a partition that does not exist and
    // a shift without a commit fail with exit 1.
    for bad in [
        &["--reset-offsets", "--group", group, "--to-earliest"][..],
        &["--reset-offsets", "--group", group, "--all-topics"],
        &[
            "--reset-offsets",
            "--group",
            group,
            "--all-topics",
            "--to-latest",
            "--to-earliest",
        ],
        &[
            "--reset-offsets",
            "--group",
            group,
            "--topic",
            "cg:x",
            "--to-latest",
        ],
        &[
            "--reset-offsets",
            "--group",
            group,
            "--all-topics",
            "--to-latest",
            "--dry-run",
            "--execute",
        ],
        &["--describe"],
        &["--describe", "--reset-offsets", "--group", group],
        &["--describe", "--group", group, "--members", "--state"],
    ] {
        fails(cg(bad), 2);
    }
    let err = fails(
        cg(&[
            "--reset-offsets",
            "--group",
            group,
            "--topic",
            "cg:7",
            "--to-latest",
        ]),
        1,
    );
    assert!(err.contains("partition 7 does not exist"), "{err}");
    let err = fails(
        cg(&[
            "--reset-offsets",
            "--group",
            "fresh",
            "--topic",
            topic,
            "--shift-by",
            "1",
        ]),
        1,
    );
    assert!(err.contains("no committed offset"), "{err}");

    // --delete-offsets of one partition, then --delete of the whole group.
    let out = ok(cg(&[
        "--delete-offsets",
        "--group",
        group,
        "--topic",
        "cg:1",
    ]));
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0].join(" "),
        format!("Request succeed for deleting offsets with topic cg group {group}")
    );
    assert_eq!(
        rows[2..],
        [
            vec!["TOPIC", "PARTITION", "STATUS"],
            vec!["cg", "1", "Successful"]
        ]
    );
    assert_eq!(
        group_offsets(&b, group),
        BTreeMap::from([(tp(0), [30, 30, 0])])
    );
    let out = ok(cg(&["--delete", "--group", group]));
    assert_eq!(
        out,
        format!("Deletion of requested consumer groups ('{group}') was successful.\n")
    );
    let out = cg(&["--describe", "--group", group]);
    assert!(text(&out.stderr).contains("does not exist"));
    assert_eq!(ok(cg(&["--list"])), "");
}

/// `rill console-consumer --group` with `extra` flags, printing `partition offset value`.
fn group_console_consumer(bootstrap: &str, group: &str, topic: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "console-consumer",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--from-beginning",
        "--property",
        "print.partition=true",
        "print.offset=true",
        "key.separator= ",
    ];
    args.extend_from_slice(extra);
    rill(&args, "")
}

/// `(partition, offset)` of each line `Partition:P Offset:O value` a console consumer printed.
fn printed_positions(out: &str) -> Vec<(i32, i64)> {
    let number = |cell: &str, prefix: &str| -> i64 {
        let digits = cell
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{cell}: no {prefix}"));
        digits
            .parse()
            .unwrap_or_else(|_| panic!("{cell}: not a number"))
    };
    out.lines()
        .map(|line| {
            let cells: Vec<&str> = line.split(' ').collect();
            let partition = number(cells[0], "Partition:");
            (partition as i32, number(cells[1], "Offset:"))
        })
        .collect()
}

#[test]
fn console_consumer_group_resumes_where_it_stopped_and_members_split_the_partitions() {
    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    let topic = "cc-group";
    create_topic(&b, topic, 4);
    // Ten records in each partition.
    for p in 0..4 {
        let lines: String = (0..10).map(|i| format!("p{p}-{i}\n")).collect();
        ok(kcat(
            &["-b", &b, "-P", "-t", topic, "-p", &p.to_string()],
            &lines,
        ));
    }
    let everything: Vec<(i32, i64)> = (0..4).flat_map(|p| (0..10).map(move |o| (p, o))).collect();

    // The first run prints five records and commits them at exit; the second prints the rest.
    let first = printed_positions(&ok(group_console_consumer(
        &b,
        "cc",
        topic,
        &["--max-messages", "5"],
    )));
    assert_eq!(first.len(), 5, "{first:?}");
    let second = printed_positions(&ok(group_console_consumer(
        &b,
        "cc",
        topic,
        &["--timeout-ms", "2000"],
    )));
    let mut both = [first, second].concat();
    both.sort();
    assert_eq!(
        both, everything,
        "each record exactly once over the two runs"
    );
    // Everything committed: no lag; both runs left the group.
    for (key, [current, end, lag]) in group_offsets(&b, "cc") {
        assert_eq!((current, end, lag), (10, 10, 0), "{key:?}");
    }
    let out = ok(rill(
        &[
            "consumer-groups",
            "--bootstrap-server",
            &b,
            "--list",
            "--state",
            "empty",
        ],
        "",
    ));
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["cc", "Empty"]),
        "{out}"
    );

    // Two members of one new group started together: the range assignor gives each two
    // partitions, and each partition's records go to exactly one of them.
    let members: Vec<_> = (0..2)
        .map(|_| {
            let b = b.clone();
            std::thread::spawn(move || {
                group_console_consumer(
                    &b,
                    "cc-pair",
                    topic,
                    &["--max-messages", "20", "--timeout-ms", "30000"],
                )
            })
        })
        .collect();
    let outputs: Vec<Vec<(i32, i64)>> = members
        .into_iter()
        .map(|m| printed_positions(&ok(m.join().unwrap())))
        .collect();
    let partitions = |positions: &[(i32, i64)]| {
        positions
            .iter()
            .map(|(p, _)| *p)
            .collect::<std::collections::BTreeSet<i32>>()
    };
    let (one, two) = (partitions(&outputs[0]), partitions(&outputs[1]));
    assert_eq!((one.len(), two.len()), (2, 2), "{outputs:?}");
    assert!(one.is_disjoint(&two), "{outputs:?}");
    let mut all = outputs.concat();
    all.sort();
    assert_eq!(all, everything);
}

/// Whether `group` is listed in `state` (`stable`, `empty`, …) by `consumer-groups --list`.
fn group_in_state(bootstrap: &str, group: &str, state: &str) -> bool {
    let out = rill(
        &[
            "consumer-groups",
            "--bootstrap-server",
            bootstrap,
            "--list",
            "--state",
            state,
        ],
        "",
    );
    (text(&out.stdout).lines()).any(|l| l.split_whitespace().next() == Some(group))
}

#[test]
fn a_console_consumer_group_member_outlives_a_broker_kill_and_restart() {
    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    let topic = "cc-restart";
    create_topic(&b, topic, 2);
    let produce = |b: &str, from: usize, to: usize| {
        for p in 0..2 {
            let lines: String = (from..to).map(|i| format!("p{p}-{i}\n")).collect();
            ok(kcat(
                &["-b", b, "-P", "-t", topic, "-p", &p.to_string()],
                &lines,
            ));
        }
    };
    produce(&b, 0, 10);
    let member = {
        let b = b.clone();
        std::thread::spawn(move || {
            group_console_consumer(&b, "cc-restart", topic, &["--timeout-ms", "15000"])
        })
    };
    let deadline = Instant::now() + TOOL_TIMEOUT;
    while !group_in_state(&b, "cc-restart", "stable") {
        assert!(Instant::now() < deadline, "the member never joined");
        std::thread::sleep(Duration::from_millis(200));
    }
    // kill -9 under the running member, then more records once the broker is back.
    let server = server.restart(&[]);
    produce(&b, 10, 20);
    let printed = printed_positions(&ok(member.join().unwrap()));
    for p in 0..2 {
        for o in 0..20 {
            assert!(
                printed.contains(&(p, o)),
                "p{p}@{o} never printed: {printed:?}"
            );
        }
    }
    // It committed the log end before it left.
    for (key, [current, end, lag]) in group_offsets(&b, "cc-restart") {
        assert_eq!((current, end, lag), (20, 20, 0), "{key:?}");
    }
    drop(server);
}

/// `rill perf produce --transactional-id --transaction-duration-ms` (Kafka's
/// producer-perf-test flags): the records go out in transactions committed every duration;
/// a read_committed consumer reads every one of them (and no marker), and the id's last
/// transaction is CompleteCommit. A second run under the same id fences nothing of the first
/// (which ended) and commits too.
#[test]
fn perf_produce_with_transactions_commits_every_record() {
    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    create_topic(&b, "txn-perf", 2);
    let produce = |records: &str| {
        ok(rill(
            &[
                "perf",
                "produce",
                "--bootstrap-server",
                &b,
                "--topic",
                "txn-perf",
                "--num-records",
                records,
                // Small: the consumers' output must fit the pipe `run` reads after the exit.
                "--record-size",
                "10",
                "--throughput",
                "2000",
                "--transactional-id",
                "perf-txn",
                "--transaction-duration-ms",
                "200",
                "--producer-property",
                "linger.ms=2",
            ],
            "",
        ))
    };
    let out = produce("2000");
    assert!(out.contains("2000 records sent, "), "{out}");
    let last = out.lines().last().unwrap_or_default();
    let committed: u64 = (last.split_once(" transactions committed, commit latency avg "))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no transaction count: {out}"));
    // About one second at 2000 records/s, one transaction per 200 ms.
    assert!(committed >= 3, "{out}");
    let out = produce("500");
    assert!(out.contains("500 records sent, "), "{out}");
    let consume = |isolation: &str| {
        ok(rill(
            &[
                "console-consumer",
                "--bootstrap-server",
                &b,
                "--topic",
                "txn-perf",
                "--from-beginning",
                "--isolation-level",
                isolation,
                "--timeout-ms",
                "3000",
            ],
            "",
        ))
        .lines()
        .count()
    };
    assert_eq!(consume("read_committed"), 2500);
    assert_eq!(consume("read_uncommitted"), 2500, "markers never surface");
    let out = ok(rill(
        &[
            "transactions",
            "--bootstrap-server",
            &b,
            "describe",
            "--transactional-id",
            "perf-txn",
        ],
        "",
    ));
    let row = out.lines().nth(1).map(table_cells).unwrap_or_default();
    assert_eq!(row.get(4), Some(&"CompleteCommit"), "{out}");
    assert_eq!(row.get(3), Some(&"1"), "the second run's epoch: {out}");
    // A zero duration is refused as Kafka's tool refuses it.
    let err = fails(
        rill(
            &[
                "perf",
                "produce",
                "--bootstrap-server",
                &b,
                "--topic",
                "txn-perf",
                "--num-records",
                "1",
                "--record-size",
                "1",
                "--throughput",
                "-1",
                "--transaction-duration-ms",
                "0",
            ],
            "",
        ),
        2,
    );
    assert!(err.contains("greater than 0"), "{err}");
}

/// The cells of one line of a `rill transactions` table: Kafka's columns, each padded and
/// followed by a tab.
fn table_cells(line: &str) -> Vec<&str> {
    let line = line.strip_suffix('\t').unwrap_or(line);
    line.split('\t').map(str::trim).collect()
}

/// `rill transactions list` and `describe` (kafka-transactions.sh): an empty cluster lists
/// nothing and an unknown id is TRANSACTIONAL_ID_NOT_FOUND; a transaction left open (driven
/// over the wire as a producer's client drives it) is listed Ongoing and described with its
/// partitions, its start and its duration; once committed it is CompleteCommit.
#[test]
fn transactions_list_and_describe_an_open_transaction_then_its_commit() {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use kafka_protocol::messages::{
        AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, EndTxnRequest,
        EndTxnResponse, FindCoordinatorRequest, FindCoordinatorResponse, InitProducerIdRequest,
        InitProducerIdResponse, ProducerId, TransactionalId,
    };
    use kafka_protocol::protocol::StrBytes;

    let server = RillServer::start(&[]);
    let b = server.addr.to_string();
    let transactions = |extra: &[&str]| {
        let mut args = vec!["transactions", "--bootstrap-server", b.as_str()];
        args.extend_from_slice(extra);
        rill(&args, "")
    };
    let header = "TransactionalId\tCoordinator\tProducerId\tTransactionState\t\n";
    // Nothing yet (no `__transaction_state` even): the header alone, as Kafka's tool prints.
    assert_eq!(ok(transactions(&["list"])), header);
    // An id nobody knows (its lookup creates the topic, as Kafka's FindCoordinator does).
    let err = fails(
        transactions(&["describe", "--transactional-id", "nobody"]),
        1,
    );
    assert!(
        err.starts_with(
            "Error: Failed to describe transaction state of transactional-id `nobody`: \
             TRANSACTIONAL_ID_NOT_FOUND"
        ),
        "{err}"
    );
    assert_eq!(ok(transactions(&["list"])), header);
    // Usage errors exit 2.
    fails(transactions(&[]), 2);
    fails(transactions(&["describe"]), 2);
    fails(transactions(&["list", "--transactional-id", "x"]), 2);
    fails(transactions(&["list", "describe"]), 2);

    // A producer's transaction, left open: FindCoordinator (key type 1), InitProducerId,
    // AddPartitionsToTxn.
    create_topic(&b, "ledger", 2);
    let mut s = server.connect();
    let txn_id = || TransactionalId(StrBytes::from_static_str("payments"));
    let find = FindCoordinatorRequest::default()
        .with_key(StrBytes::from_static_str("payments"))
        .with_key_type(1);
    let found: FindCoordinatorResponse = until_settled(
        || common::call(&mut s, ApiKey::FindCoordinator, 3, &find),
        |r: &FindCoordinatorResponse| r.error_code,
    );
    assert_eq!(found.error_code, 0, "{found:?}");
    let coordinator = found.node_id.0.to_string();
    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(txn_id()))
        .with_transaction_timeout_ms(60_000);
    let granted: InitProducerIdResponse = until_settled(
        || common::call(&mut s, ApiKey::InitProducerId, 4, &init),
        |r: &InitProducerIdResponse| r.error_code,
    );
    assert_eq!(granted.error_code, 0, "{granted:?}");
    let (pid, epoch) = (granted.producer_id.0, granted.producer_epoch);
    let add = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(txn_id())
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(common::topic_name("ledger"))
            .with_partitions(vec![0, 1])]);
    let added: AddPartitionsToTxnResponse = until_settled(
        || common::call(&mut s, ApiKey::AddPartitionsToTxn, 3, &add),
        |r: &AddPartitionsToTxnResponse| {
            r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
        },
    );
    let codes: Vec<i16> = (added.results_by_topic_v3_and_below.iter())
        .flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| p.partition_error_code)
        })
        .collect();
    assert_eq!(codes, [0, 0], "{added:?}");

    let pid_text = pid.to_string();
    let listed = ok(transactions(&["list"]));
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert_eq!(
        table_cells(lines[0]),
        [
            "TransactionalId",
            "Coordinator",
            "ProducerId",
            "TransactionState"
        ]
    );
    let ongoing = [
        "payments",
        coordinator.as_str(),
        pid_text.as_str(),
        "Ongoing",
    ];
    assert_eq!(table_cells(lines[1]), ongoing, "{listed}");
    // The flag form of the command, and the duration filter: it has not run for an hour.
    assert_eq!(ok(transactions(&["--list"])), listed);
    assert_eq!(
        ok(transactions(&["list", "--duration-filter", "3600000"])),
        header
    );
    assert_eq!(
        table_cells(
            ok(transactions(&["list", "--duration-filter", "0"]))
                .lines()
                .nth(1)
                .unwrap_or("")
        ),
        ongoing
    );

    let described = ok(transactions(&[
        "describe",
        "--transactional-id",
        "payments",
    ]));
    let lines: Vec<&str> = described.lines().collect();
    assert_eq!(lines.len(), 2, "{described}");
    assert_eq!(
        table_cells(lines[0]),
        [
            "CoordinatorId",
            "TransactionalId",
            "ProducerId",
            "ProducerEpoch",
            "TransactionState",
            "TransactionTimeoutMs",
            "CurrentTransactionStartTimeMs",
            "TransactionDurationMs",
            "TopicPartitions"
        ]
    );
    let row = table_cells(lines[1]);
    let epoch_text = epoch.to_string();
    assert_eq!(
        row[..6],
        [
            coordinator.as_str(),
            "payments",
            pid_text.as_str(),
            epoch_text.as_str(),
            "Ongoing",
            "60000"
        ],
        "{described}"
    );
    let start_ms: i64 = row[6].parse().expect("a start time");
    let duration_ms: i64 = row[7].parse().expect("a duration");
    assert!(start_ms > 1_600_000_000_000, "{described}");
    assert!((0..600_000).contains(&duration_ms), "{described}");
    assert_eq!(row[8], "ledger-0,ledger-1", "{described}");

    // Committed: once the markers are written, CompleteCommit.
    let end = EndTxnRequest::default()
        .with_transactional_id(txn_id())
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(true);
    let ended: EndTxnResponse = until_settled(
        || common::call(&mut s, ApiKey::EndTxn, 3, &end),
        |r: &EndTxnResponse| r.error_code,
    );
    assert_eq!(ended.error_code, 0, "{ended:?}");
    let deadline = Instant::now() + TOOL_TIMEOUT;
    loop {
        let listed = ok(transactions(&["list"]));
        let state = listed.lines().nth(1).map(|l| table_cells(l)[3].to_string());
        if state.as_deref() == Some("CompleteCommit") {
            break;
        }
        assert!(Instant::now() < deadline, "never complete: {listed}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let completed = ok(transactions(&[
        "--describe",
        "--transactional-id",
        "payments",
    ]));
    let row: Vec<String> = (completed.lines().nth(1).map(table_cells))
        .unwrap_or_default()
        .into_iter()
        .map(str::to_string)
        .collect();
    assert_eq!(row[4], "CompleteCommit", "{completed}");
    assert_eq!(row[8], "", "no partitions left: {completed}");
    drop(server);
}

/// The last stable offset and the high watermark of `topic`-0 (ListOffsets latest, as a
/// read_committed and a read_uncommitted consumer see it).
fn stable_and_high(stream: &mut std::net::TcpStream, topic: &str) -> (i64, i64) {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::{ApiKey, BrokerId, ListOffsetsRequest, ListOffsetsResponse};
    let mut latest = |isolation_level: i8| {
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(isolation_level)
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(common::topic_name(topic))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-1)])]);
        let listed: ListOffsetsResponse = common::call(stream, ApiKey::ListOffsets, 7, &request);
        let partition = &listed.topics[0].partitions[0];
        assert_eq!(partition.error_code, 0, "{listed:?}");
        partition.offset
    };
    (latest(1), latest(0))
}

/// kafka-transactions' `describe-producers`, `find-hanging` and `abort` on a hanging
/// transaction: a producer's transactional batch written to a partition its coordinator was
/// never told of (no AddPartitionsToTxn; with KIP-890's verification off, as on a broker that
/// predates it, the write is taken; `tests/kafka_transactions.rs` shows it refused when on),
/// which holds the partition's last stable offset, and with it
/// every read_committed consumer, for good. describe-producers shows it with its start offset,
/// find-hanging finds it (its coordinator knows the id but holds no transaction with that
/// partition), abort by that offset ends it and the last stable offset reaches the high
/// watermark; a second one is aborted by producer id, producer epoch and coordinator epoch.
#[test]
fn transactions_find_hanging_and_abort_a_hanging_transaction() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{
        ApiKey, FindCoordinatorRequest, FindCoordinatorResponse, InitProducerIdRequest,
        InitProducerIdResponse, ProduceRequest, ProduceResponse, TransactionalId,
    };
    use kafka_protocol::protocol::StrBytes;
    use rill::storage::batch::{build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT};

    let server = RillServer::start(&[
        "--override",
        "transaction.partition.verification.enable=false",
    ]);
    let b = server.addr.to_string();
    let transactions = |extra: &[&str]| {
        let mut args = vec!["transactions", "--bootstrap-server", b.as_str()];
        args.extend_from_slice(extra);
        rill(&args, "")
    };
    create_topic(&b, "ledger", 1);
    let mut s = server.connect();

    // The producer's identity: FindCoordinator then InitProducerId with its transactional id.
    let find = FindCoordinatorRequest::default()
        .with_key(StrBytes::from_static_str("stuck"))
        .with_key_type(1);
    let found: FindCoordinatorResponse = until_settled(
        || common::call(&mut s, ApiKey::FindCoordinator, 3, &find),
        |r: &FindCoordinatorResponse| r.error_code,
    );
    assert_eq!(found.error_code, 0, "{found:?}");
    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("stuck"))))
        .with_transaction_timeout_ms(60_000);
    let granted: InitProducerIdResponse = until_settled(
        || common::call(&mut s, ApiKey::InitProducerId, 4, &init),
        |r: &InitProducerIdResponse| r.error_code,
    );
    assert_eq!(granted.error_code, 0, "{granted:?}");
    let (pid, epoch) = (granted.producer_id.0, granted.producer_epoch);

    // A transactional batch at `sequence`, with no AddPartitionsToTxn before it.
    let produce_transactional = |s: &mut std::net::TcpStream, sequence: i32| {
        let stamp = ProducerStamp {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: sequence,
            attributes: TRANSACTIONAL_BIT,
        };
        let batch = build_stamped_batch(&[(None, Some(b"stuck"))], 1_700_000_000_000, stamp);
        let request = ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("stuck"))))
            .with_acks(-1)
            .with_timeout_ms(5_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(common::topic_name("ledger"))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch.into()))])]);
        let produced: ProduceResponse = common::call(s, ApiKey::Produce, 9, &request);
        let partition = &produced.responses[0].partition_responses[0];
        assert_eq!(
            partition.error_code, 0,
            "the transactional produce was refused (a verification against the coordinator?): \
             {produced:?}"
        );
        partition.base_offset
    };
    assert_eq!(produce_transactional(&mut s, 0), 0);
    // A plain record after it: written, but held back from read_committed consumers.
    assert_eq!(common::produce(&mut s, "ledger", b"after"), 1);
    assert_eq!(stable_and_high(&mut s, "ledger"), (0, 2));

    let pid_text = pid.to_string();
    let epoch_text = epoch.to_string();
    let producers_header = [
        "ProducerId",
        "ProducerEpoch",
        "LatestCoordinatorEpoch",
        "LastSequence",
        "LastTimestamp",
        "CurrentTransactionStartOffset",
    ];
    let describe = [
        "describe-producers",
        "--topic",
        "ledger",
        "--partition",
        "0",
    ];
    let described = ok(transactions(&describe));
    let lines: Vec<&str> = described.lines().collect();
    assert_eq!(lines.len(), 2, "{described}");
    assert_eq!(table_cells(lines[0]), producers_header);
    let row = table_cells(lines[1]);
    assert_eq!(
        [row[0], row[1], row[2], row[3], row[5]],
        [pid_text.as_str(), epoch_text.as_str(), "-1", "0", "0"],
        "{described}"
    );
    let last_timestamp: i64 = row[4].parse().expect("a timestamp");
    assert!(last_timestamp > 1_600_000_000_000, "{described}");
    // The replica on broker 1 (the leader here) says the same.
    let on_broker = [&describe[..], &["--broker-id", "1"]].concat();
    assert_eq!(ok(transactions(&on_broker)), described);
    let err = fails(
        transactions(&["describe-producers", "--topic", "nope", "--partition", "0"]),
        1,
    );
    assert!(
        err.contains("Failed to describe producers for partition nope-0 on leader")
            && err.contains("UNKNOWN_TOPIC_OR_PARTITION"),
        "{err}"
    );
    let err = fails(
        transactions(&[
            "describe-producers",
            "--topic",
            "ledger",
            "--partition",
            "7",
        ]),
        1,
    );
    assert!(err.contains("has no partition 7"), "{err}");

    // find-hanging: open longer than 0 minutes, and its coordinator holds no transaction
    // with ledger-0 (the id is Empty there).
    std::thread::sleep(Duration::from_millis(20));
    let hanging_header = [
        "Topic",
        "Partition",
        "ProducerId",
        "ProducerEpoch",
        "CoordinatorEpoch",
        "StartOffset",
        "LastTimestamp",
        "Duration(min)",
    ];
    let find_hanging = [
        "find-hanging",
        "--broker-id",
        "1",
        "--max-transaction-timeout",
        "0",
    ];
    let found = ok(transactions(&find_hanging));
    let lines: Vec<&str> = found.lines().collect();
    assert_eq!(lines.len(), 2, "{found}");
    assert_eq!(table_cells(lines[0]), hanging_header);
    let last_text = last_timestamp.to_string();
    assert_eq!(
        table_cells(lines[1]),
        [
            "ledger",
            "0",
            pid_text.as_str(),
            epoch_text.as_str(),
            "-1",
            "0",
            last_text.as_str(),
            "0"
        ],
        "{found}"
    );
    let by_topic = [
        "find-hanging",
        "--topic",
        "ledger",
        "--max-transaction-timeout",
        "0",
    ];
    assert_eq!(ok(transactions(&by_topic)), found);
    // Within the default 15 minutes it is not a candidate yet.
    let header_only = ok(transactions(&[
        "find-hanging",
        "--topic",
        "ledger",
        "--partition",
        "0",
    ]));
    assert_eq!(header_only.lines().count(), 1, "{header_only}");
    fails(transactions(&["find-hanging"]), 2);
    fails(
        transactions(&["find-hanging", "--broker-id", "1", "--partition", "0"]),
        2,
    );

    // abort: by a start offset no transaction has, then by its own.
    let abort = ["abort", "--topic", "ledger", "--partition", "0"];
    fails(transactions(&abort), 2);
    let err = fails(
        transactions(&[&abort[..], &["--start-offset", "1"]].concat()),
        1,
    );
    assert!(
        err.contains(
            "Could not find any open transactions starting at offset 1 on partition ledger-0"
        ),
        "{err}"
    );
    assert_eq!(
        ok(transactions(
            &[&abort[..], &["--start-offset", "0"]].concat()
        )),
        ""
    );
    // The ABORT marker is at 2: everything up to the high watermark is stable again.
    assert_eq!(stable_and_high(&mut s, "ledger"), (3, 3));
    let described = ok(transactions(&describe));
    let row = table_cells(described.lines().nth(1).unwrap_or(""));
    assert_eq!(
        [row[0], row[2], row[5]],
        [pid_text.as_str(), "0", "None"],
        "the marker's coordinator epoch, nothing open: {described}"
    );
    let found = ok(transactions(&find_hanging));
    assert_eq!(found.lines().count(), 1, "nothing hangs: {found}");

    // A second one, aborted by its producer: id, epoch and the coordinator epoch shown.
    assert_eq!(produce_transactional(&mut s, 1), 3);
    assert_eq!(stable_and_high(&mut s, "ledger"), (3, 4));
    let named = [
        "--producer-id",
        pid_text.as_str(),
        "--producer-epoch",
        epoch_text.as_str(),
        "--coordinator-epoch",
        "0",
    ];
    fails(transactions(&[&abort[..], &named[..4]].concat()), 2);
    assert_eq!(ok(transactions(&[&abort[..], &named[..]].concat())), "");
    assert_eq!(stable_and_high(&mut s, "ledger"), (5, 5));
    drop(server);
}
