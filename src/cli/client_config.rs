//! A tool's client settings from where Kafka's tools take them: a Java properties file
//! (`--command-config` of the admin tools, `--producer.config`, `--consumer.config`,
//! `--admin.config`), then `key=value` flags (`--producer-property`, `--consumer-property`),
//! a later value of a key winning. So a user's `client.properties` works unchanged:
//!
//! * the security keys (`security.protocol`, `ssl.*`, `sasl.*`: [`security::KEYS`]) become
//!   the connections' [`ClientSecurity`], checked before any connection is made;
//! * every other key goes to the tool ([`ToolSettings::apply`]): the producer's or consumer's
//!   settings. A key the tool does not know is, from a file, a warning on stderr and ignored
//!   (Kafka's clients: "supplied but isn't a known config"), so a file shared with other
//!   clients works; from a flag, a usage error, so a typo on the command line shows.
//!
//! The file is read with the server's properties parser ([`crate::config::properties`]), so
//! escapes, continuation lines and comments mean what they mean to Java.

use std::collections::BTreeMap;

use super::args::Args;
use super::client::security::{self, ClientSecurity};
use super::client::ClientConfig;
use super::{CliError, CliResult};
use crate::config::properties;

/// Keys every Kafka client takes that Rill's tools accept from a file without effect (the
/// connection settings of the Java client; `bootstrap.servers` is the tool's
/// `--bootstrap-server`).
const COMMON_CLIENT_KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "client.dns.lookup",
    "client.rack",
    "connections.max.idle.ms",
    "default.api.timeout.ms",
    "metadata.max.age.ms",
    "receive.buffer.bytes",
    "reconnect.backoff.max.ms",
    "reconnect.backoff.ms",
    "request.timeout.ms",
    "retries",
    "retry.backoff.max.ms",
    "retry.backoff.ms",
    "send.buffer.bytes",
    "socket.connection.setup.timeout.max.ms",
    "socket.connection.setup.timeout.ms",
];

/// Where a setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A line of the file a config flag names.
    File { path: String, line: usize },
    /// A `key=value` flag.
    Flag(&'static str),
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::File { path, line } => format!("{path} line {line}"),
            Origin::Flag(flag) => flag.to_string(),
        }
    }
}

/// One `key=value`, trimmed (Kafka trims values when it types them).
#[derive(Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

impl std::fmt::Debug for Setting {
    /// A secret's value (a JAAS config, a private key, a password) is not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = crate::config::security::is_sensitive(&self.key);
        f.debug_struct("Setting")
            .field("key", &self.key)
            .field("value", if secret { &"[hidden]" } else { &self.value })
            .field("origin", &self.origin)
            .finish()
    }
}

/// A tool's client settings: the client's config (security resolved) and the rest in order.
#[derive(Debug)]
pub struct ToolSettings {
    pub client: ClientConfig,
    settings: Vec<Setting>,
}

impl ToolSettings {
    /// Reads the file named by whichever of `file_flags` is given (at most one: they are one
    /// flag's names, old and new), then the pairs of `property_flags`, and resolves the
    /// security keys. A problem with them fails the tool, naming the property (and the file
    /// line it came from).
    pub fn load(
        args: &Args,
        file_flags: &[&'static str],
        property_flags: &[&'static str],
    ) -> CliResult<Self> {
        let mut settings = match given_file(args, file_flags)? {
            Some((flag, path)) => read_file(flag, path)?,
            None => Vec::new(),
        };
        for flag in property_flags {
            settings.extend(args.properties(flag).iter().map(|(key, value)| Setting {
                key: key.trim().to_string(),
                value: value.trim().to_string(),
                origin: Origin::Flag(flag),
            }));
        }
        let mut security_settings: BTreeMap<String, String> = BTreeMap::new();
        let mut origins: BTreeMap<&str, &Origin> = BTreeMap::new();
        for setting in settings
            .iter()
            .filter(|s| security::is_security_key(&s.key))
        {
            security_settings.insert(setting.key.clone(), setting.value.clone());
            origins.insert(&setting.key, &setting.origin);
        }
        let security = ClientSecurity::from_settings(&security_settings).map_err(|problem| {
            // The problem starts with its key: say which line or flag set it.
            let key = problem.split(':').next().unwrap_or_default();
            match origins.get(key) {
                Some(origin @ Origin::File { .. }) => {
                    CliError::Failed(format!("{}: {problem}", origin.describe()))
                }
                _ => CliError::Failed(problem),
            }
        })?;
        let client = ClientConfig {
            security,
            ..ClientConfig::default()
        };
        Ok(Self { client, settings })
    }

    /// Hands every setting that is not a security key to `apply`, in order, which answers
    /// whether it knows the key (`Ok(false)`: unknown). An unknown key from a file is warned
    /// about and skipped, from a flag it is a usage error; `apply`'s error for a value read
    /// from a file names the file and line.
    pub fn apply(&self, mut apply: impl FnMut(&str, &str) -> CliResult<bool>) -> CliResult {
        for setting in &self.settings {
            let (key, value) = (setting.key.as_str(), setting.value.as_str());
            if security::is_security_key(key) {
                continue;
            }
            let known = apply(key, value).map_err(|e| match (&setting.origin, e) {
                (origin @ Origin::File { .. }, CliError::Usage(m) | CliError::Failed(m)) => {
                    CliError::Failed(format!("{}: {m}", origin.describe()))
                }
                (_, e) => e,
            })?;
            match (&setting.origin, known) {
                (_, true) => {}
                (Origin::File { .. }, false) if COMMON_CLIENT_KEYS.contains(&key) => {}
                (origin @ Origin::File { .. }, false) => eprintln!(
                    "Warning: {}: the configuration '{key}' was supplied but isn't a known \
                     config; ignored",
                    origin.describe()
                ),
                (Origin::Flag(flag), false) => {
                    return Err(CliError::Usage(format!("unknown {flag} '{key}'")))
                }
            }
        }
        Ok(())
    }

    /// The last value given for `key` (file or flag), if any.
    pub fn last(&self, key: &str) -> Option<&str> {
        (self.settings.iter().rev())
            .find(|s| s.key == key)
            .map(|s| s.value.as_str())
    }
}

/// The config file flag given, with its path; two of them is a usage error.
fn given_file<'a>(
    args: &'a Args,
    file_flags: &[&'static str],
) -> CliResult<Option<(&'static str, &'a str)>> {
    let given: Vec<(&'static str, &str)> = (file_flags.iter())
        .filter_map(|flag| args.value(flag).map(|path| (*flag, path)))
        .collect();
    match given[..] {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(CliError::Usage(format!(
            "give one of {}, not several",
            file_flags.join(", ")
        ))),
    }
}

/// A Java properties file's settings, in order.
fn read_file(flag: &str, path: &str) -> CliResult<Vec<Setting>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Failed(format!("cannot read {flag} {path}: {e}")))?;
    let parsed = properties::parse(&text)
        .map_err(|problem| CliError::Failed(format!("{flag} {path}: {problem}")))?;
    Ok(parsed
        .into_iter()
        .map(|p| Setting {
            key: p.key.trim().to_string(),
            value: p.value.trim().to_string(),
            origin: Origin::File {
                path: path.to_string(),
                line: p.line,
            },
        })
        .collect())
}

/// The settings of an admin tool: `--command-config` (and any other names of that flag the
/// tool has); admin tools take no other client keys.
pub fn admin(args: &Args, file_flags: &[&'static str]) -> CliResult<ClientConfig> {
    let settings = ToolSettings::load(args, file_flags, &[])?;
    settings.apply(|_, _| Ok(false))?;
    Ok(settings.client)
}

#[cfg(test)]
mod tests {
    use super::super::args::Spec;
    use super::*;

    const SPEC: Spec = Spec {
        switches: &[],
        values: &["--command-config", "--producer.config"],
        properties: &["--producer-property"],
    };

    fn args(list: &[&str]) -> Args {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        Args::parse(&list, &SPEC).unwrap()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    fn failed(result: CliResult<impl std::fmt::Debug>) -> String {
        match result {
            Err(CliError::Failed(m) | CliError::Usage(m)) => m,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn a_file_then_flags_and_the_security_keys_become_the_clients() {
        let config = file(
            "# client.properties\n\
             security.protocol = SASL_PLAINTEXT\n\
             sasl.mechanism=PLAIN\n\
             sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule \\\n\
             \x20   required username=\"admin\" password=\"admin-secret\";\n\
             acks=1\n\
             linger.ms=7\n",
        );
        let path = config.path().to_str().unwrap();
        let a = args(&[
            "--producer.config",
            path,
            "--producer-property",
            "linger.ms=9",
        ]);
        let settings = ToolSettings::load(
            &a,
            &["--producer.config", "--command-config"],
            &["--producer-property"],
        )
        .unwrap();
        let login = settings.client.security.sasl.clone().unwrap();
        assert_eq!(login.username, "admin");
        assert_eq!(login.password, "admin-secret");
        let mut applied = Vec::new();
        settings
            .apply(|k, v| {
                applied.push(format!("{k}={v}"));
                Ok(true)
            })
            .unwrap();
        assert_eq!(applied, ["acks=1", "linger.ms=7", "linger.ms=9"]);
        assert_eq!(settings.last("linger.ms"), Some("9"));
    }

    #[test]
    fn unknown_keys_warn_from_a_file_and_fail_from_a_flag() {
        let config = file("bootstrap.servers=x:1\nschema.registry.url=http://x\n");
        let path = config.path().to_str().unwrap();
        let settings = ToolSettings::load(
            &args(&["--command-config", path]),
            &["--command-config"],
            &[],
        )
        .unwrap();
        settings.apply(|_, _| Ok(false)).unwrap();
        let a = args(&["--producer-property", "lingr.ms=1"]);
        let settings = ToolSettings::load(&a, &[], &["--producer-property"]).unwrap();
        let error = failed(settings.apply(|_, _| Ok(false)));
        assert_eq!(error, "unknown --producer-property 'lingr.ms'");
    }

    #[test]
    fn problems_name_the_file_line_and_property_never_the_password() {
        let config = file(
            "security.protocol=SASL_SSL\nsasl.mechanism=GSSAPI\n\
             sasl.jaas.config=x required password=\"hunter2\";\n",
        );
        let path = config.path().to_str().unwrap();
        let error = failed(admin(
            &args(&["--command-config", path]),
            &["--command-config"],
        ));
        assert!(
            error.starts_with(&format!("{path} line 2: sasl.mechanism:")),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
        let config = file("acks=most\n");
        let path = config.path().to_str().unwrap();
        let settings = ToolSettings::load(
            &args(&["--producer.config", path]),
            &["--producer.config"],
            &[],
        )
        .unwrap();
        let error = failed(settings.apply(|k, v| Err(CliError::Usage(format!("{k}: bad '{v}'")))));
        assert_eq!(error, format!("{path} line 1: acks: bad 'most'"));
        let error = failed(admin(
            &args(&["--command-config", "/nonexistent/client.properties"]),
            &["--command-config"],
        ));
        assert!(error.starts_with("cannot read --command-config /nonexistent/client.properties"));
        let error = failed(admin(
            &args(&["--command-config", "a", "--producer.config", "b"]),
            &["--producer.config", "--command-config"],
        ));
        assert!(error.contains("not several"), "{error}");
    }
}
