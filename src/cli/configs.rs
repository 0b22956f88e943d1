//! `rill configs`: kafka-configs.sh's `--entity-type users` for SCRAM credentials (KIP-554),
//! through DescribeUserScramCredentials and AlterUserScramCredentials to any broker (its voter
//! forwards an alteration to the controller quorum's leader).
//!
//! As Kafka's tool, the password never leaves this process: the tool draws the salt, salts the
//! password (`Hi()` of RFC 5802) and sends only the salted password; the controller keeps the
//! stored and server keys derived from it.

use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::args::{Args, Spec};
use super::client::connection::Connection;
use super::client::ClientError;
use super::{client_config, connect, CliError, CliResult, COMMAND_CONFIG};
use crate::security::scram::{salt, ScramMechanism};
use crate::types::ErrorCode;

pub const USAGE: &str = "\
USAGE:
    rill configs --bootstrap-server H:P --describe --entity-type users [--entity-name USER]
    rill configs --bootstrap-server H:P --alter --entity-type users --entity-name USER
        [--add-config 'SCRAM-SHA-256=[iterations=8192,password=SECRET],SCRAM-SHA-512=[password=SECRET]']
        [--delete-config SCRAM-SHA-256,SCRAM-SHA-512]
    [--command-config FILE]   client properties for a secured listener (security.protocol,
                              ssl.*, sasl.mechanism, sasl.jaas.config), as kafka-configs takes

    Users' SCRAM credentials, as kafka-configs --entity-type users manages them (KIP-554);
    other entity types (topics, brokers, clients) are not served by this tool yet.

    --describe        each user's mechanisms and iteration counts, as kafka-configs prints
                      them (every user with a credential when no --entity-name is given):
                      SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192
    --alter           change one user's credentials:
    --add-config      MECHANISM=[iterations=N,password=P] sets the mechanism's credential
                      (iterations 4096 to 16384, 4096 when left out); the tool draws a random
                      salt as Kafka's tools do (a 130-bit number in base 36) and sends only
                      the password salted with it
    --delete-config   MECHANISM[,MECHANISM] removes the mechanism's credential
    --entity-type     users
    --entity-name     the user (--user USER: the same as --entity-type users --entity-name USER)

    Each change is one AlterUserScramCredentials request, deletions first: a KRaft controller
    refuses two changes of one user in one request (DUPLICATE_RESOURCE), which is what
    kafka-configs sends for two mechanisms at once. A change refused stops the tool; the ones
    before it stay.
";

const SPEC: Spec = Spec {
    switches: &["--alter", "--describe"],
    values: &[
        "--bootstrap-server",
        "--entity-type",
        "--entity-name",
        "--user",
        "--add-config",
        "--delete-config",
        "--command-config",
    ],
    properties: &[],
};

/// Kafka's `ConfigCommand.DEFAULT_SCRAM_ITERATIONS`.
const DEFAULT_ITERATIONS: u32 = 4096;

/// Kafka's client and user quota keys (`QuotaConfig.isClientOrUserQuotaConfig`): accepted by
/// kafka-configs for users, not served by Rill yet.
const QUOTA_KEYS: [&str; 4] = [
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
];

pub async fn run(raw: &[String]) -> CliResult {
    let args = Args::parse(raw, &SPEC)?;
    let action = args.one_of(&["--alter", "--describe"])?;
    let user = entity(&args)?;
    if action == "--describe" {
        if args.value("--add-config").is_some() || args.value("--delete-config").is_some() {
            return Err(CliError::Usage(
                "--add-config and --delete-config go with --alter".into(),
            ));
        }
        let config = client_config::admin(&args, COMMAND_CONFIG)?;
        let client = connect(args.required("--bootstrap-server")?, &config).await?;
        return describe(&client.bootstrap(), user).await;
    }
    let user = user.ok_or_else(|| {
        CliError::Usage("An entity name must be specified for every entity type".into())
    })?;
    let upsertions = match args.value("--add-config") {
        Some(configs) => parse_add_config(configs)?,
        None => Vec::new(),
    };
    let deletions = match args.value("--delete-config") {
        Some(names) => parse_delete_config(names)?,
        None => Vec::new(),
    };
    if upsertions.is_empty() && deletions.is_empty() {
        return Err(CliError::Usage(
            "--alter needs --add-config or --delete-config".into(),
        ));
    }
    let config = client_config::admin(&args, COMMAND_CONFIG)?;
    let client = connect(args.required("--bootstrap-server")?, &config).await?;
    let connection = client.bootstrap();
    for mechanism in deletions {
        let deletion = ScramCredentialDeletion::default()
            .with_name(StrBytes::from_string(user.to_owned()))
            .with_mechanism(mechanism.kafka_type());
        let request = AlterUserScramCredentialsRequest::default().with_deletions(vec![deletion]);
        alter(&connection, &request).await?;
    }
    for credential in upsertions {
        let salt = kafka_salt();
        let salted = (credential.mechanism).salted_password(
            credential.password.as_bytes(),
            &salt,
            credential.iterations,
        );
        let upsertion = ScramCredentialUpsertion::default()
            .with_name(StrBytes::from_string(user.to_owned()))
            .with_mechanism(credential.mechanism.kafka_type())
            .with_iterations(credential.iterations as i32)
            .with_salt(salt.into())
            .with_salted_password(salted.into());
        let request = AlterUserScramCredentialsRequest::default().with_upsertions(vec![upsertion]);
        alter(&connection, &request).await?;
    }
    // Kafka's ConfigCommand's line.
    println!("Completed updating config for user {user}.");
    Ok(())
}

/// The user named (`--entity-type users --entity-name U`, or `--user U`), if any.
fn entity(args: &Args) -> CliResult<Option<&str>> {
    match (args.value("--entity-type"), args.value("--user")) {
        (Some(_), Some(_)) => Err(CliError::Usage(
            "give --entity-type users [--entity-name USER] or --user USER, not both".into(),
        )),
        (None, Some(user)) => {
            if args.value("--entity-name").is_some() {
                return Err(CliError::Usage(
                    "--entity-name goes with --entity-type".into(),
                ));
            }
            Ok(Some(user))
        }
        (Some("users"), None) => Ok(args.value("--entity-name")),
        (Some(other), None) => Err(CliError::Unavailable(format!(
            "rill configs serves --entity-type users (SCRAM credentials) only, not '{other}' yet"
        ))),
        (None, None) => Err(CliError::Usage(
            "missing --entity-type users (or --user USER)".into(),
        )),
    }
}

/// One `--add-config` credential: its mechanism, iterations and password.
#[derive(PartialEq, Eq)]
struct NewCredential {
    mechanism: ScramMechanism,
    iterations: u32,
    password: String,
}

impl std::fmt::Debug for NewCredential {
    /// Never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential")
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Kafka's `parseConfigsToBeAdded` for users: `key=value` pairs split at commas outside
/// `[...]`, brackets dropped from values; then each key a SCRAM mechanism and each value
/// `[iterations=N,]password=P` (Kafka's `parseIterationsAndPasswordBytes`).
fn parse_add_config(configs: &str) -> CliResult<Vec<NewCredential>> {
    let pairs = split_outside_brackets(configs, ',')
        .into_iter()
        .map(|pair| match split_outside_brackets(&pair, '=')[..] {
            [ref key, ref value] => Ok((
                key.trim().to_owned(),
                value.replace(['[', ']'], "").trim().to_owned(),
            )),
            _ => Err(CliError::Failed(
                "Invalid entity config: all configs to be added must be in the format \
                 \"key=val\" or \"key=[val1,val2]\" to group values which contain commas."
                    .into(),
            )),
        })
        .collect::<CliResult<Vec<(String, String)>>>()?;
    known_keys(pairs.iter().map(|(key, _)| key.as_str()), "added")?;
    (pairs.into_iter())
        .map(|(key, value)| {
            let mechanism = ScramMechanism::parse(&key).expect("checked by known_keys");
            let (iterations, password) = iterations_and_password(mechanism, &value)?;
            Ok(NewCredential {
                mechanism,
                iterations,
                password,
            })
        })
        .collect()
}

/// `--delete-config`'s mechanisms (comma separated, as Kafka's option takes them).
fn parse_delete_config(names: &str) -> CliResult<Vec<ScramMechanism>> {
    let names: Vec<&str> = names.split(',').map(str::trim).collect();
    known_keys(names.iter().copied(), "deleted")?;
    Ok((names.into_iter())
        .map(|name| ScramMechanism::parse(name).expect("checked by known_keys"))
        .collect())
}

/// Every key a SCRAM mechanism; a quota key is refused as not built yet, anything else with
/// Kafka's words.
fn known_keys<'a>(keys: impl Iterator<Item = &'a str>, verb: &str) -> CliResult {
    let keys: Vec<&str> = keys.collect();
    if let Some(quota) = keys.iter().find(|key| QUOTA_KEYS.contains(key)) {
        return Err(CliError::Unavailable(format!(
            "'{quota}': client and user quotas are not served by rill yet"
        )));
    }
    let unknown: Vec<&str> = (keys.into_iter())
        .filter(|key| ScramMechanism::parse(key).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(CliError::Failed(format!(
            "Only quota and SCRAM credential configs can be {verb} for 'users' using \
             --bootstrap-server. Unexpected config names: {}",
            unknown.join(",")
        )));
    }
    Ok(())
}

/// Kafka's `(?:iterations=(-?[0-9]*),)?password=(.*)` (-1: the default), and its floor. The
/// value is not echoed back: it holds the password.
fn iterations_and_password(mechanism: ScramMechanism, value: &str) -> CliResult<(u32, String)> {
    let invalid = || {
        CliError::Failed(format!(
            "Invalid credential property {}: expected [iterations=N,]password=P",
            mechanism.name()
        ))
    };
    let (iterations, rest) = match value.strip_prefix("iterations=") {
        Some(rest) => {
            let (number, rest) = rest.split_once(',').ok_or_else(invalid)?;
            let iterations: i64 = number.parse().map_err(|_| invalid())?;
            (Some(iterations), rest)
        }
        None => (None, value),
    };
    let password = rest.strip_prefix("password=").ok_or_else(invalid)?;
    let iterations = match iterations {
        None | Some(-1) => DEFAULT_ITERATIONS,
        Some(n) if n < ScramMechanism::ITERATIONS_MIN as i64 => {
            return Err(CliError::Failed(format!(
                "Iterations {n} is less than the minimum {} required for {}",
                ScramMechanism::ITERATIONS_MIN,
                mechanism.name()
            )))
        }
        // Past Kafka's ceiling the controller would refuse it; refused here before the
        // salting runs that many rounds (4 billion would take this tool hours).
        Some(n) if n > ScramMechanism::ITERATIONS_MAX as i64 => {
            return Err(CliError::Failed(format!(
                "Iterations {n} is more than the maximum {} allowed for {}",
                ScramMechanism::ITERATIONS_MAX,
                mechanism.name()
            )))
        }
        Some(n) => n as u32,
    };
    Ok((iterations, password.to_owned()))
}

/// `text` split at each `separator` outside `[...]`.
fn split_outside_brackets(text: &str, separator: char) -> Vec<String> {
    let (mut parts, mut current, mut depth) = (Vec::new(), String::new(), 0u32);
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            c if c == separator && depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

/// A salt as Kafka's admin client draws one (`UserScramCredentialUpsertion`'s
/// `generateRandomSalt`: a random 130-bit number in base 36, as UTF-8).
fn kafka_salt() -> Vec<u8> {
    use rand::RngCore;
    let mut seed = [0u8; salt::KAFKA_SALT_SEED_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    salt::kafka_salt(&seed)
}

/// Sends one alteration and fails on its user's refusal.
async fn alter(connection: &Connection, request: &AlterUserScramCredentialsRequest) -> CliResult {
    let version = (connection.version(ApiKey::AlterUserScramCredentials)).map_err(|_| {
        CliError::Failed("the broker does not serve AlterUserScramCredentials".into())
    })?;
    let response: AlterUserScramCredentialsResponse = connection
        .call(ApiKey::AlterUserScramCredentials, version, request)
        .await?;
    let results = response.results.iter();
    ClientError::first_refusal(results.map(|r| (r.error_code, r.error_message.as_deref())))?;
    Ok(())
}

/// Kafka's `describeClientQuotaAndUserScramCredentialConfigs` (the SCRAM part): a line per
/// user with credentials; a named user without any prints nothing (Kafka's
/// `DescribeUserScramCredentialsResult.users()` leaves RESOURCE_NOT_FOUND out).
async fn describe(connection: &Connection, user: Option<&str>) -> CliResult {
    let version = (connection.version(ApiKey::DescribeUserScramCredentials)).map_err(|_| {
        CliError::Failed("the broker does not serve DescribeUserScramCredentials".into())
    })?;
    let users = user
        .map(|user| vec![UserName::default().with_name(StrBytes::from_string(user.to_owned()))]);
    let request = DescribeUserScramCredentialsRequest::default().with_users(users);
    let response: DescribeUserScramCredentialsResponse = connection
        .call(ApiKey::DescribeUserScramCredentials, version, &request)
        .await?;
    let code = ErrorCode::from_wire(response.error_code);
    if let Some(e) = ClientError::from_code(code, response.error_message.as_deref()) {
        return Err(e.into());
    }
    for result in &response.results {
        let user = result.user.as_str();
        match ErrorCode::from_wire(result.error_code) {
            ErrorCode::NONE => {
                let credentials: Vec<String> = (result.credential_infos.iter())
                    .map(|info| {
                        let mechanism = ScramMechanism::from_kafka_type(info.mechanism)
                            .map_or_else(
                                || format!("UNKNOWN({})", info.mechanism),
                                |m| m.name().to_owned(),
                            );
                        format!("{mechanism}=iterations={}", info.iterations)
                    })
                    .collect();
                println!(
                    "SCRAM credential configs for user-principal '{user}' are {}",
                    credentials.join(", ")
                );
            }
            ErrorCode::RESOURCE_NOT_FOUND => {}
            code => {
                let why = ClientError::from_code(code, result.error_message.as_deref())
                    .map_or_else(|| format!("{code:?}"), |e| e.to_string());
                println!(
                    "Error retrieving SCRAM credential configs for user-principal '{user}': {why}"
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_config_takes_kafkas_form() {
        let parsed = parse_add_config(
            "SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=a=b,c]",
        )
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                NewCredential {
                    mechanism: ScramMechanism::Sha256,
                    iterations: 8192,
                    password: "alice-secret".into(),
                },
                NewCredential {
                    mechanism: ScramMechanism::Sha512,
                    iterations: DEFAULT_ITERATIONS,
                    password: "a=b,c".into(),
                },
            ]
        );
        let plain = parse_add_config("SCRAM-SHA-512=[iterations=-1,password=x]").unwrap();
        assert_eq!(plain[0].iterations, 4096);
    }

    #[test]
    fn add_config_refusals_use_kafkas_words_and_never_echo_the_password() {
        let message = |configs: &str| match parse_add_config(configs) {
            Err(CliError::Failed(m) | CliError::Unavailable(m) | CliError::Usage(m)) => m,
            Ok(parsed) => panic!("{configs}: {parsed:?}"),
        };
        assert_eq!(
            message("SCRAM-SHA-256=[iterations=4095,password=p]"),
            "Iterations 4095 is less than the minimum 4096 required for SCRAM-SHA-256"
        );
        assert_eq!(
            message("SCRAM-SHA-512=[iterations=16385,password=p]"),
            "Iterations 16385 is more than the maximum 16384 allowed for SCRAM-SHA-512"
        );
        assert!(message("retention.ms=1").contains("Unexpected config names: retention.ms"));
        assert!(message("producer_byte_rate=1").contains("quotas"));
        assert!(message("SCRAM-SHA-256").contains("key=val"));
        let bad = message("SCRAM-SHA-256=[secret-word]");
        assert!(bad.contains("Invalid credential property") && !bad.contains("secret-word"));
        assert!(message("scram-sha-256=[password=p]").contains("Unexpected config names"));
    }

    #[test]
    fn delete_config_takes_mechanisms() {
        assert_eq!(
            parse_delete_config("SCRAM-SHA-256, SCRAM-SHA-512").unwrap(),
            vec![ScramMechanism::Sha256, ScramMechanism::Sha512]
        );
        assert!(parse_delete_config("SCRAM-SHA-1").is_err());
    }

    #[test]
    fn salts_are_drawn_afresh() {
        let (a, b) = (kafka_salt(), kafka_salt());
        assert_ne!(a, b);
        assert!(a.len() <= 26 && a.iter().all(|c| c.is_ascii_alphanumeric()));
    }
}
