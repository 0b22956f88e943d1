//! The `rill` command. Parses the command line and hands over; no logic lives here.

use std::process::ExitCode;

const USAGE: &str = "\
rill — a Kafka-compatible, replicated, partitioned log broker

USAGE:
    rill <COMMAND>

COMMANDS:
    server      run a broker node (lands with the single-node broker issue)
    version     print the version
    help        print this help
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("version" | "--version" | "-V") => {
            println!("rill {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("server") => {
            eprintln!("rill server: the Kafka listener is not built yet (see the README's status)");
            ExitCode::from(2)
        }
        Some(other) => {
            eprintln!("rill: unknown command '{other}'\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
