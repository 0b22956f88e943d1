//! Every `rill` command answers `--help` with its flags and exits 0, through the real binary:
//! `rill server --help` used to be refused as an unknown server flag (exit 2).
#![cfg(not(madsim))]

use std::process::Command;

/// Runs `rill ARGS` and returns (exit code, stdout).
fn rill(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(args)
        .output()
        .expect("rill runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `args` exits 0 and prints every one of `flags`.
fn assert_help(args: &[&str], flags: &[&str]) {
    let (code, stdout) = rill(args);
    assert_eq!(code, Some(0), "rill {}: {stdout}", args.join(" "));
    for flag in flags {
        assert!(
            stdout.contains(flag),
            "rill {} does not mention {flag}:\n{stdout}",
            args.join(" ")
        );
    }
}

#[test]
fn server_help_lists_its_flags_and_exits_zero() {
    let flags = [
        "--config",
        "--override",
        "--node-id",
        "--listeners",
        "--log-dirs",
    ];
    assert_help(&["server", "--help"], &flags);
    assert_help(&["server", "-h"], &flags);
    // --help wins over other flags, even ones that would fail, and starts no server.
    assert_help(
        &["server", "--config", "/nonexistent.toml", "--help"],
        &flags,
    );
    assert_help(&["help", "server"], &flags);
}

#[test]
fn client_tools_help_lists_their_flags_and_exits_zero() {
    assert_help(
        &["topics", "--help"],
        &[
            "--bootstrap-server",
            "--create",
            "--list",
            "--describe",
            "--delete",
            "--alter",
            "--command-config",
        ],
    );
    assert_help(
        &["console-producer", "--help"],
        &[
            "--bootstrap-server",
            "--topic",
            "--property",
            "--producer-property",
            "--producer.config",
        ],
    );
    assert_help(
        &["console-consumer", "--help"],
        &[
            "--bootstrap-server",
            "--topic",
            "--from-beginning",
            "--max-messages",
            "--consumer.config",
        ],
    );
    assert_help(
        &["consumer-groups", "--help"],
        &[
            "--bootstrap-server",
            "--list",
            "--describe",
            "--delete-offsets",
            "--reset-offsets",
            "--shift-by",
            "--execute",
            "--command-config",
        ],
    );
    assert_help(
        &["configs", "--help"],
        &[
            "--bootstrap-server",
            "--alter",
            "--describe",
            "--entity-type",
            "--entity-name",
            "--add-config",
            "--delete-config",
            "--command-config",
        ],
    );
    assert_help(
        &["acls", "--help"],
        &[
            "--bootstrap-server",
            "--add",
            "--remove",
            "--list",
            "--allow-principal",
            "--deny-principal",
            "--operation",
            "--topic",
            "--resource-pattern-type",
            "--force",
            "--command-config",
        ],
    );
    // Every admin tool takes its client properties file (kafka-leader-election's is
    // --admin.config).
    for tool in ["transactions", "metadata-quorum", "reassign-partitions"] {
        assert_help(&[tool, "--help"], &["--command-config"]);
    }
    assert_help(
        &["leader-election", "--help"],
        &["--admin.config", "--command-config"],
    );
    let perf = [
        "--num-records",
        "--record-size",
        "--throughput",
        "--messages",
        "--rate",
        "--producer.config",
        "--consumer.config",
    ];
    for args in [
        &["perf", "--help"][..],
        &["perf", "produce", "--help"],
        &["perf", "consume", "--help"],
        &["perf", "e2e", "--help"],
        &["help", "perf"],
    ] {
        assert_help(args, &perf);
    }
}

#[test]
fn version_and_help_answer_help_and_exit_zero() {
    assert_help(&["version", "--help"], &["rill version", "--version"]);
    assert_help(&["help", "--help"], &["rill help [COMMAND]"]);
    assert_help(
        &["--help"],
        &["rill server", "rill topics", "rill configs", "rill perf"],
    );
    assert_help(&["help"], &["rill server", "rill topics", "rill perf"]);
    let (code, stdout) = rill(&["version"]);
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("rill "), "{stdout}");
}

#[test]
fn an_unknown_server_flag_is_still_refused_with_the_server_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["server", "--listenerz", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unexpected argument '--listenerz'"),
        "{stderr}"
    );
    // The closest flag is suggested, then the server's flags listed.
    assert!(
        stderr.contains("a similar argument exists: '--listeners'"),
        "{stderr}"
    );
    assert!(stderr.contains("--log-dirs"), "{stderr}");
}

#[test]
fn a_mistyped_command_or_tool_flag_names_the_closest() {
    let out = Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["consumer-group", "--list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a similar command exists: 'consumer-groups'"),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["topics", "--bootstrap-servr", "127.0.0.1:1", "--list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a similar argument exists: '--bootstrap-server'"),
        "{stderr}"
    );
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, stdout) = rill(&["completions", shell]);
        assert_eq!(code, Some(0), "{shell}");
        // Fish names a long flag without its dashes (`-l bootstrap-server`).
        for word in ["console-producer", "bootstrap-server", "producer-property"] {
            assert!(stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    // The bash script completes a command and a tool's flag when bash runs it.
    let (_, script) = rill(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rill.bash");
    std::fs::write(&path, script).unwrap();
    let complete = |words: &str, cur: &str, prev: &str| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _rill rill {cur} {prev}; echo \"${{COMPREPLY[@]}}\"",
            path.display()
        );
        let out = Command::new("bash")
            .args(["-c", &program])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        complete("rill consumer-gr", "consumer-gr", "rill"),
        "consumer-groups"
    );
    assert_eq!(
        complete("rill topics --bootstrap-se", "--bootstrap-se", "topics"),
        "--bootstrap-server"
    );
    let (code, _) = rill(&["completions", "tcsh"]);
    assert_eq!(code, Some(2));
}
