//! The `config` fuzz target's body (`fuzz/fuzz_targets/config.rs`), also run as a proptest in
//! plain `cargo test`: a server config from arbitrary text, as a `server.properties` file or
//! a TOML file, with `--override` lines, through [`ServerConfig::load`] (parse, type every
//! key, cross-check the whole). Whatever the text, the answer is a config or an error naming
//! the key: never a panic.
//!
//! Keys that name files (`ssl.keystore.location`, `ssl.truststore.location`) are left out
//! (any input with `location` or a backslash, which could spell it by an escape): loading
//! reads them, and a fuzzer that names `/dev/zero` finds the operator's choice, not a bug.

use super::{FileFormat, ServerConfig};

/// Loads `data` as a config: its first byte picks the file's format and how many of its last
/// lines are given as overrides instead.
pub fn load_arbitrary(data: &[u8]) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    // A backslash could spell `location` by an escape (`\u006c…`, a properties line
    // continuation, a TOML quoted key): such inputs are left out with the word itself.
    if text.contains("location") || text.contains('\\') {
        return;
    }
    let format = if choice & 1 == 0 {
        FileFormat::Properties
    } else {
        FileFormat::Toml
    };
    let lines: Vec<&str> = text.lines().collect();
    let overrides_count = usize::from(choice >> 1).min(lines.len());
    let (file_lines, override_lines) = lines.split_at(lines.len() - overrides_count);
    let file = file_lines.join("\n");
    let overrides: Vec<String> = override_lines.iter().map(|l| l.to_string()).collect();
    if let Ok(config) = ServerConfig::load(Some((format, &file)), &overrides) {
        // A config that loads answers its derived views too.
        let _ = config.advertised();
        let _ = config.client_listeners();
        let _ = config.flush_summary();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The fuzz body in plain `cargo test`, on text made of config-like pieces as well as
        /// any bytes.
        #[test]
        fn any_text_is_loaded_or_refused(
            choice in any::<u8>(),
            lines in proptest::collection::vec(
                "(listeners|node\\.id|process\\.roles|log\\.dirs|num\\.partitions|\
                  sasl\\.enabled\\.mechanisms|listener\\.security\\.protocol\\.map|\
                  listener\\.name\\.[a-z_]{1,8}\\.[a-z.]{1,20}|log\\.retention\\.[a-z]{2,7}|\
                  [a-z.]{1,24})\\s?[=: ]\\s?[ -~]{0,40}",
                0..12,
            ),
            noise in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut data = vec![choice];
            data.extend_from_slice(lines.join("\n").as_bytes());
            data.extend_from_slice(&noise);
            super::load_arbitrary(&data);
        }
    }
}
