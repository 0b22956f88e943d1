//! `rill configs`: kafka-configs.sh with `--bootstrap-server` for `--entity-type clients` and
//! `users`: client quotas (KIP-546) through DescribeClientQuotas and AlterClientQuotas, and
//! users' SCRAM credentials (KIP-554) through DescribeUserScramCredentials and
//! AlterUserScramCredentials, to any broker (its voter forwards an alteration to the
//! controller quorum's leader).
//!
//! What it accepts, refuses and prints follows Kafka's `ConfigCommand`: its messages, its
//! pairing of entity names with types, quota values printed as Java's `Double.toString`, and
//! entities and keys in the order its admin client's Java `HashMap`s iterate them.
//!
//! As Kafka's tool, the password never leaves this process: the tool draws the salt, salts the
//! password (`Hi()` of RFC 5802) and sends only the salted password; the controller keeps the
//! stored and server keys derived from it.

use std::collections::BTreeMap;

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
use super::client::admin::{
    alter_client_quotas_request, describe_client_quotas_request, EntityQuotas, QuotaEntity,
    QuotaMatch, QuotaOp,
};
use super::client::connection::Connection;
use super::client::{Client, ClientError};
use super::{client_config, connect, CliError, CliResult, COMMAND_CONFIG};
use crate::security::scram::{salt, ScramMechanism};
use crate::types::ErrorCode;

pub const USAGE: &str = "\
USAGE:
    rill configs --bootstrap-server H:P --describe ENTITY
    rill configs --bootstrap-server H:P --alter ENTITY
        [--add-config 'producer_byte_rate=1048576,consumer_byte_rate=2097152']
        [--delete-config producer_byte_rate,consumer_byte_rate]
    rill configs --bootstrap-server H:P --alter --entity-type users --entity-name USER
        [--add-config 'SCRAM-SHA-256=[iterations=8192,password=SECRET],SCRAM-SHA-512=[password=SECRET]']
        [--delete-config SCRAM-SHA-256,SCRAM-SHA-512]
    [--command-config FILE]   client properties for a secured listener (security.protocol,
                              ssl.*, sasl.mechanism, sasl.jaas.config), as kafka-configs takes

    Client quotas of client-ids, users and a user's client-ids (KIP-546), and users' SCRAM
    credentials (KIP-554), as kafka-configs --bootstrap-server manages them; other entity
    types (topics, brokers, ips) are not served by this tool yet.

    ENTITY, as kafka-configs names one:
      --entity-type clients  --entity-name CLIENT-ID | --entity-default
      --entity-type users    --entity-name USER | --entity-default
          [--entity-type clients --entity-name CLIENT-ID | --entity-default]
                      names and defaults pair with the types in command-line order
      --client CLIENT-ID, --client-defaults, --user USER, --user-defaults
                      the same, in place of the --entity-* flags (not together with them)
      A type without a name describes every entity of that type (its default included).

    Quota keys: producer_byte_rate and consumer_byte_rate (bytes per second),
    request_percentage (percent of one request-handler thread), controller_mutation_rate
    (partition mutations per second); values are numbers, read as Java doubles.

    --describe        the quotas of each entity matched, then for users (without clients or a
                      default) the SCRAM mechanisms and iteration counts, as kafka-configs
                      prints them:
                      Quota configs for user-principal 'alice', client-id 'app' are producer_byte_rate=1048576.0
                      Quota configs for the default client-id are consumer_byte_rate=2097152.0
                      SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192
    --alter           change one entity's quotas, or one user's SCRAM credentials (not both
                      in one command; credentials not for defaults):
    --add-config      KEY=VALUE[,KEY=VALUE] sets quotas;
                      MECHANISM=[iterations=N,password=P] sets the mechanism's credential
                      (iterations 4096 to 16384, 4096 when left out); the tool draws a random
                      salt as Kafka's tools do (a 130-bit number in base 36) and sends only
                      the password salted with it
    --delete-config   KEY[,KEY] removes quotas (each must be set: Invalid config(s) otherwise);
                      MECHANISM[,MECHANISM] removes the mechanism's credential

    A quota change is one AlterClientQuotas request (sets, then removals), after a strict
    DescribeClientQuotas of the entity. Each credential change is one AlterUserScramCredentials
    request, deletions first: a KRaft controller refuses two changes of one user in one
    request (DUPLICATE_RESOURCE), which is what kafka-configs sends for two mechanisms at once.
    A change refused stops the tool; the ones before it stay.
";

pub(super) const SPEC: Spec = Spec {
    switches: &[
        "--alter",
        "--describe",
        "--entity-default",
        "--user-defaults",
        "--client-defaults",
    ],
    values: &[
        "--bootstrap-server",
        "--entity-type",
        "--entity-name",
        "--user",
        "--client",
        "--add-config",
        "--delete-config",
        "--command-config",
    ],
    properties: &[],
};

/// Kafka's `ConfigCommand.DEFAULT_SCRAM_ITERATIONS`.
const DEFAULT_ITERATIONS: u32 = 4096;

/// Kafka's client and user quota keys (`QuotaConfig.isClientOrUserQuotaConfig`).
const QUOTA_KEYS: [&str; 4] = [
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
];

pub async fn run(raw: &[String]) -> CliResult {
    let args = Args::parse(raw, &SPEC)?;
    let action = args.one_of(&["--alter", "--describe"])?;
    let entities = Entities::from_args(&args)?;
    if action == "--describe" {
        if args.value("--add-config").is_some() || args.value("--delete-config").is_some() {
            return Err(CliError::Usage(
                "--add-config and --delete-config go with --alter".into(),
            ));
        }
        let filter = entities.quota_filter()?;
        let config = client_config::admin(&args, COMMAND_CONFIG)?;
        let client = connect(args.required("--bootstrap-server")?, &config).await?;
        return describe(&client, &entities, &filter).await;
    }
    entities.check_alter()?;
    let changes = ConfigChanges::from_args(&args)?;
    let alteration = plan_alteration(&entities, &changes)?;
    let config = client_config::admin(&args, COMMAND_CONFIG)?;
    let client = connect(args.required("--bootstrap-server")?, &config).await?;
    match alteration {
        Alteration::Quotas { entity, ops } => {
            alter_quotas(&client, &entities, &entity, &ops, &changes.deleted).await?
        }
        Alteration::Scram {
            user,
            upsertions,
            deletions,
        } => alter_scram(&client.bootstrap(), &user, upsertions, deletions).await?,
    }
    println!("{}", entities.completed_line());
    Ok(())
}

/// The entity types this tool serves (Kafka's `ConfigType.CLIENT` and `USER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntityType {
    Users,
    Clients,
}

impl EntityType {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "users" => Some(Self::Users),
            "clients" => Some(Self::Clients),
            _ => None,
        }
    }

    /// Its `--entity-type` value.
    fn name(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Clients => "clients",
        }
    }

    /// Its type in a client quota entity (Kafka's `ClientQuotaEntity.USER`, `CLIENT_ID`).
    fn quota_type(self) -> &'static str {
        match self {
            Self::Users => "user",
            Self::Clients => "client-id",
        }
    }
}

/// The entities of the command line as Kafka's `ConfigCommandOptions` lists them
/// (`entityTypes()`, `entityNames()`): two lists paired by position, a name `""` standing for
/// the type's default. Each list may be shorter than the other; `--describe` takes a type
/// without a name as "every entity of that type".
#[derive(Debug, PartialEq, Eq)]
struct Entities {
    types: Vec<EntityType>,
    names: Vec<String>,
}

/// The flags naming entities one by one, in the order Kafka lists them (`entityFlags()`, then
/// `entityDefaultsFlags()`), whatever their order on the command line: `--user U --client C`
/// is the entity `clients` C of `users` U.
const ENTITY_FLAGS: [(&str, EntityType); 4] = [
    ("--client", EntityType::Clients),
    ("--user", EntityType::Users),
    ("--client-defaults", EntityType::Clients),
    ("--user-defaults", EntityType::Users),
];

impl Entities {
    /// The entities named, with the checks of Kafka's `checkArgs` in its order.
    fn from_args(args: &Args) -> CliResult<Self> {
        let (types, names, specific) = Self::kafka_lists(args);
        let duplicates = duplicates(&types);
        if !duplicates.is_empty() {
            return Err(CliError::Usage(format!(
                "Duplicate entity type(s) specified: {}",
                duplicates.join(",")
            )));
        }
        let types = (types.into_iter())
            .map(|name| {
                EntityType::parse(name).ok_or_else(|| {
                    CliError::Unavailable(format!(
                        "rill configs serves --entity-type clients and users (client quotas, \
                         SCRAM credentials) only, not '{name}' yet"
                    ))
                })
            })
            .collect::<CliResult<Vec<EntityType>>>()?;
        if types.is_empty() {
            return Err(CliError::Usage(
                "At least one entity type must be specified".into(),
            ));
        }
        let generic = ["--entity-type", "--entity-name", "--entity-default"];
        if specific && args.sequence(&generic).next().is_some() {
            return Err(CliError::Usage(
                "--entity-{type,name,default} should not be used in conjunction with specific \
                 entity flags"
                    .into(),
            ));
        }
        Ok(Self { types, names })
    }

    /// Kafka's two lists: the `--entity-type` values then the specific flags' types; the
    /// `--entity-name`s and `--entity-default`s (`""`) in command-line order, then the specific
    /// flags' names. And whether any specific flag was given.
    fn kafka_lists(args: &Args) -> (Vec<&str>, Vec<String>, bool) {
        let mut types: Vec<&str> = args
            .values("--entity-type")
            .iter()
            .map(String::as_str)
            .collect();
        let mut names: Vec<String> = (args.sequence(&["--entity-name", "--entity-default"]))
            .map(|(_, name)| name.unwrap_or_default().to_owned())
            .collect();
        let mut specific = false;
        for (flag, entity_type) in ENTITY_FLAGS {
            let given = if flag.ends_with("-defaults") {
                args.has(flag).then_some("")
            } else {
                args.value(flag)
            };
            if let Some(name) = given {
                types.push(entity_type.name());
                names.push(name.to_owned());
                specific = true;
            }
        }
        (types, names, specific)
    }

    /// Kafka's checks before an alteration: a name or default, and one for every type.
    fn check_alter(&self) -> CliResult {
        if self.names.is_empty() {
            return Err(CliError::Usage(
                "An entity-name or default entity must be specified with --alter of users, \
                 clients, brokers or ips"
                    .into(),
            ));
        }
        if self.names.len() != self.types.len() {
            return Err(CliError::Usage(
                "An entity name must be specified for every entity type".into(),
            ));
        }
        Ok(())
    }

    /// The DescribeClientQuotas filter kafka-configs sends (`getAllClientQuotasConfigs`):
    /// per type, the entity named in its position, the default for `""`, and any entity of
    /// the type when no name is in its position.
    fn quota_filter(&self) -> CliResult<Vec<(String, QuotaMatch)>> {
        if self.names.len() > self.types.len() {
            return Err(CliError::Usage(
                "More entity names specified than entity types".into(),
            ));
        }
        Ok((self.types.iter().enumerate())
            .map(|(i, entity_type)| {
                let matching = match self.names.get(i).map(String::as_str) {
                    None => QuotaMatch::Specified,
                    Some("") => QuotaMatch::Default,
                    Some(name) => QuotaMatch::Exact(name.to_owned()),
                };
                (entity_type.quota_type().to_owned(), matching)
            })
            .collect())
    }

    /// The one entity an alteration changes (after [`Entities::check_alter`]).
    fn quota_entity(&self) -> QuotaEntity {
        (self.types.iter().zip(&self.names))
            .map(|(entity_type, name)| {
                let name = (!name.is_empty()).then(|| name.clone());
                (entity_type.quota_type().to_owned(), name)
            })
            .collect()
    }

    /// Whether a describe prints users' SCRAM credentials after the quotas: not for clients,
    /// nor for a default (Kafka's `describeClientQuotaAndUserScramCredentialConfigs`).
    fn describes_scram(&self) -> bool {
        !self.types.contains(&EntityType::Clients) && !self.names.iter().any(String::is_empty)
    }

    /// Kafka's last line of an alteration, about the first entity only.
    fn completed_line(&self) -> String {
        let entity_type = self.types[0].name();
        match self.names[0].as_str() {
            "" => format!("Completed updating default config for {entity_type} in the cluster."),
            name => {
                let singular = entity_type.strip_suffix('s').unwrap_or(entity_type);
                format!("Completed updating config for {singular} {name}.")
            }
        }
    }
}

/// The entity types given more than once, each once, in order of first repetition.
fn duplicates<'a>(types: &[&'a str]) -> Vec<&'a str> {
    let mut duplicates: Vec<&str> = Vec::new();
    for (i, entity_type) in types.iter().enumerate() {
        if types[..i].contains(entity_type) && !duplicates.contains(entity_type) {
            duplicates.push(entity_type);
        }
    }
    duplicates
}

/// `--add-config` and `--delete-config` as Kafka's `parseConfigsToBeAdded` and
/// `parseConfigsToBeDeleted` read them.
#[derive(Debug, PartialEq, Eq)]
struct ConfigChanges {
    /// Each key with its value, in command-line order; a key given twice keeps its last value
    /// (Kafka reads them into `Properties`).
    added: Vec<(String, String)>,
    /// Every `--delete-config`'s comma-separated keys, trimmed.
    deleted: Vec<String>,
}

impl ConfigChanges {
    fn from_args(args: &Args) -> CliResult<Self> {
        let deletions = args.values("--delete-config");
        if args.value("--add-config").is_none() && deletions.is_empty() {
            return Err(CliError::Usage(
                "At least one of --add-config or --delete-config must be specified with --alter"
                    .into(),
            ));
        }
        let pairs = match args.value("--add-config") {
            Some(configs) => parse_config_pairs(configs)?,
            None => Vec::new(),
        };
        let mut added: Vec<(String, String)> = Vec::new();
        for (key, value) in pairs {
            java_put(&mut added, key, value);
        }
        let deleted = (deletions.iter())
            .flat_map(|names| names.split(','))
            .map(|name| name.trim().to_owned())
            .collect();
        Ok(Self { added, deleted })
    }
}

/// What a key of `--add-config` or `--delete-config` is, for users and clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Quota,
    Scram,
    Unknown,
}

impl KeyKind {
    fn of(key: &str) -> Self {
        if QUOTA_KEYS.contains(&key) {
            Self::Quota
        } else if ScramMechanism::parse(key).is_some() {
            Self::Scram
        } else {
            Self::Unknown
        }
    }
}

/// One alteration, as [`plan_alteration`] routes it.
#[derive(Debug, PartialEq)]
enum Alteration {
    /// One AlterClientQuotas entry: the entity, its sets and then its removals.
    Quotas {
        entity: QuotaEntity,
        ops: Vec<QuotaOp>,
    },
    /// One user's SCRAM credentials.
    Scram {
        user: String,
        upsertions: Vec<NewCredential>,
        deletions: Vec<ScramMechanism>,
    },
}

/// Kafka's `alterConfig` for users and clients: refuses the keys its entities do not take,
/// with Kafka's words, then routes quota keys to AlterClientQuotas and SCRAM mechanisms to
/// AlterUserScramCredentials.
fn plan_alteration(entities: &Entities, changes: &ConfigChanges) -> CliResult<Alteration> {
    check_keys(entities, changes)?;
    let added = changes.added.iter().map(|(key, _)| key.as_str());
    let quotas = (added.chain(changes.deleted.iter().map(String::as_str)))
        .any(|key| KeyKind::of(key) == KeyKind::Quota);
    if quotas {
        return Ok(Alteration::Quotas {
            entity: entities.quota_entity(),
            ops: quota_ops(changes)?,
        });
    }
    // Only users reach here (clients take quota keys only), one user without a default.
    let deletions = (changes.deleted.iter())
        .map(|name| ScramMechanism::parse(name).expect("checked by check_keys"))
        .collect();
    Ok(Alteration::Scram {
        user: entities.names[0].clone(),
        upsertions: scram_credentials(&changes.added)?,
        deletions,
    })
}

/// Kafka's refusals of keys: clients (alone or under a user) take quota keys only; users take
/// quota keys or SCRAM mechanisms, not both at once, and no mechanism for a default. The
/// names refused are listed as Kafka lists them, in its `HashSet`'s order (names sharing a
/// bucket in command-line order, where Kafka's follow its `Properties`' order).
fn check_keys(entities: &Entities, changes: &ConfigChanges) -> CliResult {
    let added: Vec<&str> = changes.added.iter().map(|(key, _)| key.as_str()).collect();
    let deleted: Vec<&str> = changes.deleted.iter().map(String::as_str).collect();
    let of_kind = |keys: &[&'_ str], kind| -> Vec<String> {
        (keys.iter())
            .filter(|key| KeyKind::of(key) == kind)
            .map(|key| key.to_string())
            .collect()
    };
    let refuse = |what: &str, verb: &str, entity_type: &str, names: Vec<String>| {
        CliError::Failed(format!(
            "Only {what} can be {verb} for '{entity_type}' using --bootstrap-server. \
             Unexpected config names: {}",
            names.join(",")
        ))
    };
    if entities.types[0] == EntityType::Clients || entities.types.len() == 2 {
        for (keys, verb) in [(&added, "added"), (&deleted, "deleted")] {
            let (unknown, scram) = (
                of_kind(keys, KeyKind::Unknown),
                of_kind(keys, KeyKind::Scram),
            );
            if !unknown.is_empty() || !scram.is_empty() {
                // Kafka: `new HashSet<>(unknown)` (a HashSet itself), then `addAll(scram)`.
                let unknown = java_hash_set(unknown, JAVA_DEFAULT_CAPACITY);
                let capacity = JAVA_DEFAULT_CAPACITY.max(unknown.len() * 4 / 3 + 1);
                let names = java_hash_set(unknown.into_iter().chain(scram).collect(), capacity);
                return Err(refuse("quota configs", verb, "clients", names));
            }
        }
        return Ok(());
    }
    for (keys, verb) in [(&added, "added"), (&deleted, "deleted")] {
        let unknown = of_kind(keys, KeyKind::Unknown);
        if !unknown.is_empty() {
            let names = java_hash_set(unknown, JAVA_DEFAULT_CAPACITY);
            return Err(refuse(
                "quota and SCRAM credential configs",
                verb,
                "users",
                names,
            ));
        }
    }
    let any = |kind| {
        added
            .iter()
            .chain(&deleted)
            .any(|key| KeyKind::of(key) == kind)
    };
    if any(KeyKind::Scram) {
        if entities.names.iter().any(String::is_empty) {
            return Err(CliError::Failed(
                "The use of --entity-default or --user-defaults is not allowed with User SCRAM \
                 Credentials using --bootstrap-server."
                    .into(),
            ));
        }
        if any(KeyKind::Quota) {
            return Err(CliError::Failed(
                "Cannot alter both quota and SCRAM credential configs simultaneously for \
                 'users' using --bootstrap-server."
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Kafka's `alterQuotaConfigs` ops: each added key with its value read as a Java double, then
/// each deleted key removed. (Kafka reads the values after its describe; here they are read
/// before connecting, so a bad value is reported even when the broker is unreachable.)
fn quota_ops(changes: &ConfigChanges) -> CliResult<Vec<QuotaOp>> {
    let sets = (changes.added.iter()).map(|(key, value)| {
        let parsed = parse_java_double(value).ok_or_else(|| {
            CliError::Failed(format!(
                "Cannot parse quota configuration value for {key}: {value}"
            ))
        })?;
        Ok((key.clone(), Some(parsed)))
    });
    let removals = (changes.deleted.iter()).map(|key| Ok((key.clone(), None)));
    sets.chain(removals).collect()
}

/// Kafka's check before removing quotas: every key deleted is set on the entity now, as the
/// strict describe found it (`described`: at most the one entity).
fn check_deletions(described: &[EntityQuotas], deleted: &[String]) -> CliResult {
    let current = described.first().map_or(&[][..], |e| e.values.as_slice());
    let invalid: Vec<&str> = (deleted.iter())
        .filter(|key| !current.iter().any(|(k, _)| k == *key))
        .map(String::as_str)
        .collect();
    if invalid.is_empty() {
        return Ok(());
    }
    Err(CliError::Failed(format!(
        "Invalid config(s): {}",
        invalid.join(",")
    )))
}

/// Describes the entity (strict: that entity only), refuses deleting a key it lacks, then
/// sends the one AlterClientQuotas entry and fails on its refusal.
async fn alter_quotas(
    client: &Client,
    entities: &Entities,
    entity: &QuotaEntity,
    ops: &[QuotaOp],
    deleted: &[String],
) -> CliResult {
    let filter = entities.quota_filter()?;
    let described =
        (client.describe_client_quotas(&describe_client_quotas_request(&filter, true))).await?;
    check_deletions(&described, deleted)?;
    let results = (client.alter_client_quotas(&alter_client_quotas_request(entity, ops))).await?;
    if results.is_empty() {
        return Err(CliError::Failed(
            "the broker's AlterClientQuotas answer has no entry".into(),
        ));
    }
    for (_, result) in results {
        result?;
    }
    Ok(())
}

/// Kafka's `describeClientQuotaAndUserScramCredentialConfigs`: the quota lines, then for users
/// (without clients or a default) the SCRAM lines.
async fn describe(
    client: &Client,
    entities: &Entities,
    filter: &[(String, QuotaMatch)],
) -> CliResult {
    let request = describe_client_quotas_request(filter, true);
    match client.describe_client_quotas(&request).await {
        Ok(described) => {
            for line in quota_lines(described) {
                println!("{line}");
            }
        }
        // A broker without DescribeClientQuotas keeps no quotas: its users' lines are their
        // credentials alone (Kafka's tool would stop at the unsupported API instead).
        Err(ClientError::Unsupported { .. }) if entities.describes_scram() => {}
        Err(e) => return Err(e.into()),
    }
    if entities.describes_scram() {
        let user = entities.names.first().map(String::as_str);
        describe_scram(&client.bootstrap(), user).await?;
    }
    Ok(())
}

/// Kafka's `describeQuotaConfigs` lines for a DescribeClientQuotas answer:
/// `Quota configs for user-principal 'alice', client-id 'app' are producer_byte_rate=1024.0,
/// consumer_byte_rate=2048.0`, values as Java's `Double.toString`. Kafka's admin client puts
/// the answer into `HashMap`s (entities, and each entity's keys and values), so the lines and
/// the keys within one come in those maps' order, reproduced here; an entity or key the
/// answer repeats keeps its first place and its last value, as a `HashMap.put`.
fn quota_lines(described: Vec<EntityQuotas>) -> Vec<String> {
    let capacity = described.len();
    let mut entities: Vec<(EntityMap, Vec<(String, f64)>)> = Vec::new();
    for quotas in described {
        // The entity's own map: a type given twice keeps its last name.
        let entity: EntityMap = quotas.entity.into_iter().collect();
        java_put(&mut entities, entity, java_hash_map(quotas.values));
    }
    let hashed = (entities.into_iter())
        .map(|(entity, values)| (java_entity_hash(&entity), (entity, values)))
        .collect();
    (java_hash_order(hashed, capacity).into_iter())
        .map(|(entity, values)| {
            let values: Vec<String> = (values.iter())
                .map(|(key, value)| format!("{key}={}", fmt_java_double(*value)))
                .collect();
            format!(
                "Quota configs for {} are {}",
                entity_words(&entity),
                values.join(", ")
            )
        })
        .collect()
}

/// A quota entity as Kafka's admin client holds it: a map from each type to its name.
type EntityMap = BTreeMap<String, Option<String>>;

/// An entity as kafka-configs names it: `user-principal 'alice', client-id 'app'`, `the
/// default client-id` (a null or empty name), user first, then client-id, then ip.
fn entity_words(entity: &EntityMap) -> String {
    let words: Vec<String> = [
        ("user", "user-principal"),
        ("client-id", "client-id"),
        ("ip", "ip"),
    ]
    .into_iter()
    .filter_map(|(entity_type, words)| match entity.get(entity_type)? {
        Some(name) if !name.is_empty() => Some(format!("{words} '{name}'")),
        _ => Some(format!("the default {words}")),
    })
    .collect();
    words.join(", ")
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

/// Kafka's `parseConfigsToBeAdded`: `key=value` pairs split at commas outside `[...]`,
/// brackets dropped from values.
fn parse_config_pairs(configs: &str) -> CliResult<Vec<(String, String)>> {
    split_outside_brackets(configs, ',')
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
        .collect()
}

/// Each SCRAM mechanism's `[iterations=N,]password=P` (Kafka's
/// `parseIterationsAndPasswordBytes`); [`check_keys`] let only mechanisms through.
fn scram_credentials(pairs: &[(String, String)]) -> CliResult<Vec<NewCredential>> {
    (pairs.iter())
        .map(|(key, value)| {
            let mechanism = ScramMechanism::parse(key).expect("checked by check_keys");
            let (iterations, password) = iterations_and_password(mechanism, value)?;
            Ok(NewCredential {
                mechanism,
                iterations,
                password,
            })
        })
        .collect()
}

/// One user's credential changes, each its own AlterUserScramCredentials request, deletions
/// first (a KRaft controller refuses two changes of one user in one request).
async fn alter_scram(
    connection: &Connection,
    user: &str,
    upsertions: Vec<NewCredential>,
    deletions: Vec<ScramMechanism>,
) -> CliResult {
    for mechanism in deletions {
        let deletion = ScramCredentialDeletion::default()
            .with_name(StrBytes::from_string(user.to_owned()))
            .with_mechanism(mechanism.kafka_type());
        let request = AlterUserScramCredentialsRequest::default().with_deletions(vec![deletion]);
        alter_credential(connection, &request).await?;
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
        alter_credential(connection, &request).await?;
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

/// Sends one credential alteration and fails on its user's refusal.
async fn alter_credential(
    connection: &Connection,
    request: &AlterUserScramCredentialsRequest,
) -> CliResult {
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
async fn describe_scram(connection: &Connection, user: Option<&str>) -> CliResult {
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

/// The capacity of a Java `HashMap` or `HashSet` made without one.
const JAVA_DEFAULT_CAPACITY: usize = 16;

/// Java's `String.hashCode`: over the UTF-16 code units, `h = 31 * h + unit`, wrapping.
fn java_string_hash(text: &str) -> i32 {
    (text.encode_utf16()).fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Java's `ClientQuotaEntity.hashCode`: `Objects.hash(entries)`, so 31 plus the entries map's
/// hash (the sum of each type's hash XOR its name's, a null name hashing to 0).
fn java_entity_hash(entity: &EntityMap) -> i32 {
    (entity.iter()).fold(31i32, |sum, (entity_type, name)| {
        let name = name.as_deref().map_or(0, java_string_hash);
        sum.wrapping_add(java_string_hash(entity_type) ^ name)
    })
}

/// `HashMap.put` on a list kept in insertion order: a key already there keeps its place and
/// takes the new value.
fn java_put<K: PartialEq, V>(entries: &mut Vec<(K, V)>, key: K, value: V) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => entries.push((key, value)),
    }
}

/// What Kafka's admin client makes of a list of string-keyed pairs,
/// `new HashMap<>(pairs.size())` filled by `put`: the pairs in the map's iteration order.
fn java_hash_map<V>(pairs: Vec<(String, V)>) -> Vec<(String, V)> {
    let capacity = pairs.len();
    let mut entries = Vec::new();
    for (key, value) in pairs {
        java_put(&mut entries, key, value);
    }
    let hashed = (entries.into_iter())
        .map(|(key, value)| (java_string_hash(&key), (key, value)))
        .collect();
    java_hash_order(hashed, capacity)
}

/// The iteration order of a Java `HashSet` of `names` (added in this order) made with
/// `initial_capacity`.
fn java_hash_set(names: Vec<String>, initial_capacity: usize) -> Vec<String> {
    let mut distinct: Vec<String> = Vec::new();
    for name in names {
        if !distinct.contains(&name) {
            distinct.push(name);
        }
    }
    let hashed = (distinct.into_iter())
        .map(|name| (java_string_hash(&name), name))
        .collect();
    java_hash_order(hashed, initial_capacity)
}

/// The order a Java `HashMap` made with `initial_capacity` iterates distinct keys, given as
/// their `hashCode` in insertion order: by bucket (the hash spread as `h ^ (h >>> 16)`, masked
/// by the table size), then in insertion order within a bucket (resizes keep it). Java turns a
/// bucket of 8 or more keys into a tree, or grows a table under 64 instead; only names made to
/// collide get there, and their order may then differ.
fn java_hash_order<T>(entries: Vec<(i32, T)>, initial_capacity: usize) -> Vec<T> {
    let mask = java_table_size(initial_capacity, entries.len()) - 1;
    let mut entries: Vec<(usize, T)> = (entries.into_iter())
        .map(|(hash, entry)| {
            let hash = hash as u32;
            ((hash ^ (hash >> 16)) as usize & mask, entry)
        })
        .collect();
    entries.sort_by_key(|(bucket, _)| *bucket); // Stable: a bucket keeps insertion order.
    entries.into_iter().map(|(_, entry)| entry).collect()
}

/// The table size of a Java `HashMap` made with `initial_capacity` after `len` insertions: the
/// power of two from `tableSizeFor(initial_capacity)`, doubled while `len` is over its
/// threshold (`(int) (size * 0.75f)`, the default load factor).
fn java_table_size(initial_capacity: usize, len: usize) -> usize {
    let mut size = initial_capacity.max(1).next_power_of_two();
    while len > size * 3 / 4 {
        size *= 2;
    }
    size
}

/// Java's `Double.toString` (JDK 19 and later, the shortest decimal that reads back): `1024.0`,
/// `0.5`, `0.001`; below 10^-3 and from 10^7 up `1.0E-4`, `1.048576E7`; `NaN`, `Infinity`,
/// `-0.0`.
fn fmt_java_double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    let magnitude = value.abs();
    if magnitude.is_infinite() {
        return format!("{sign}Infinity");
    }
    if magnitude == 0.0 {
        return format!("{sign}0.0");
    }
    let (digits, exponent) = java_digits(magnitude);
    if (1e-3..1e7).contains(&magnitude) {
        let (whole, fraction) = if exponent >= 0 {
            let point = exponent as usize + 1;
            let whole = format!("{:0<point$}", &digits[..point.min(digits.len())]);
            (whole, digits.get(point..).unwrap_or_default().to_owned())
        } else {
            let zeros = "0".repeat((-exponent - 1) as usize);
            ("0".to_owned(), format!("{zeros}{digits}"))
        };
        let fraction = if fraction.is_empty() {
            "0".into()
        } else {
            fraction
        };
        return format!("{sign}{whole}.{fraction}");
    }
    let fraction = if digits.len() > 1 { &digits[1..] } else { "0" };
    format!("{sign}{}.{fraction}E{exponent}", &digits[..1])
}

/// The significant digits Java's `Double.toString` shows for a finite positive `value`, and
/// the power of ten of the first. Java's rule: of the decimals that read back as `value`, those
/// of the fewest digits (Rust's `{:e}` finds how few), or of one or two digits where one is
/// enough; of those the closest to `value`, on a tie the one with an even last digit
/// (`2.1790694364005672E15`, `4.9E-324`, where Rust's own shortest form says `…73e15`, `5e-324`).
fn java_digits(value: f64) -> (String, i32) {
    let length = split_scientific(&format!("{value:e}")).0.len().max(2);
    // The exact value, to its last nonzero digit (a double has at most 767).
    let (exact, exponent) = split_scientific(&format!("{value:.800e}"));
    let exact = exact.trim_end_matches('0');
    if exact.len() <= length {
        return (exact.to_owned(), exponent);
    }
    // The closest decimals of `length` digits, below and above `value`.
    let (below, rest) = exact.split_at(length);
    let above = (below.parse::<u64>().expect("at most 17 digits") + 1).to_string();
    let above_exponent = exponent + (above.len() - below.len()) as i32; // 99 + 1 = 100
    let reads_back = |digits: &str, first: i32| {
        let decimal = format!("{digits}e{}", first - (digits.len() as i32 - 1));
        decimal.parse::<f64>() == Ok(value)
    };
    let take_above = match (
        reads_back(below, exponent),
        reads_back(&above, above_exponent),
    ) {
        // `rest` has no trailing zero: "5" is exactly half way.
        (true, true) => match rest.cmp("5") {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => below.ends_with(['1', '3', '5', '7', '9']),
        },
        (below_reads_back, _) => !below_reads_back,
    };
    let (digits, first) = match take_above {
        true => (above, above_exponent),
        false => (below.to_owned(), exponent),
    };
    let digits = digits.trim_end_matches('0');
    (digits.to_owned(), first)
}

/// `d.ddde±x` (Rust's `{:e}`) as its digits without the point, and `x`.
fn split_scientific(text: &str) -> (String, i32) {
    let (mantissa, exponent) = text.split_once('e').expect("{:e} has an exponent");
    let digits = mantissa.replace('.', "");
    (
        digits,
        exponent.parse().expect("{:e}'s exponent is a number"),
    )
}

/// Java's `Double.parseDouble` for a quota value: surrounding whitespace ignored, decimal
/// digits with an optional sign, point, exponent and `d`/`f` suffix, or a signed `NaN` or
/// `Infinity` (Rust's own spellings, `inf` or `nan`, are refused as Java refuses them; Java's
/// hexadecimal `0x1p3` is refused too).
fn parse_java_double(text: &str) -> Option<f64> {
    let text = text.trim_matches(|c: char| c <= ' ');
    let negative = text.starts_with('-');
    match text.strip_prefix(['+', '-']).unwrap_or(text) {
        "NaN" => return Some(f64::NAN),
        "Infinity" if negative => return Some(f64::NEG_INFINITY),
        "Infinity" => return Some(f64::INFINITY),
        _ => {}
    }
    let number = text.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(text);
    let decimal = |b: u8| b.is_ascii_digit() || b"+-.eE".contains(&b);
    if number.is_empty() || !number.bytes().all(decimal) {
        return None;
    }
    number.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command line's flags, split at whitespace.
    fn args(line: &str) -> Args {
        args_of(&line.split_whitespace().collect::<Vec<_>>())
    }

    fn args_of(raw: &[&str]) -> Args {
        let raw: Vec<String> = raw.iter().map(|arg| arg.to_string()).collect();
        Args::parse(&raw, &SPEC).unwrap()
    }

    fn entities(line: &str) -> Entities {
        Entities::from_args(&args(line)).unwrap()
    }

    /// The message of a refusal, whatever its kind.
    fn message<T: std::fmt::Debug>(result: CliResult<T>) -> String {
        match result {
            Err(CliError::Failed(m) | CliError::Unavailable(m) | CliError::Usage(m)) => m,
            Ok(value) => panic!("not refused: {value:?}"),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn names_and_defaults_pair_with_types_in_command_line_order() {
        use EntityType::{Clients, Users};
        let e =
            entities("--entity-type users --entity-default --entity-type clients --entity-name c");
        assert_eq!(
            (e.types.clone(), e.names.clone()),
            (vec![Users, Clients], names(&["", "c"]))
        );
        assert_eq!(
            e.quota_entity(),
            vec![
                ("user".into(), None),
                ("client-id".into(), Some("c".into()))
            ]
        );
        assert_eq!(
            e.completed_line(),
            "Completed updating default config for users in the cluster."
        );
        // Names are taken in their own order, whichever type flag they follow.
        let e =
            entities("--entity-type users --entity-type clients --entity-name u --entity-default");
        assert_eq!(e.names, names(&["u", ""]));
        assert_eq!(e.completed_line(), "Completed updating config for user u.");
        let e = entities("--entity-type clients --entity-name app");
        assert_eq!(
            e.completed_line(),
            "Completed updating config for client app."
        );
        assert_eq!(
            entities("--entity-type clients --entity-default").names,
            names(&[""])
        );
    }

    #[test]
    fn specific_flags_come_in_kafkas_fixed_order() {
        use EntityType::{Clients, Users};
        // --client before --user, whatever the command line's order: Kafka then reports the
        // client.
        let e = entities("--user alice --client app");
        assert_eq!(
            (e.types.clone(), e.names.clone()),
            (vec![Clients, Users], names(&["app", "alice"]))
        );
        assert_eq!(
            e.completed_line(),
            "Completed updating config for client app."
        );
        let e = entities("--client-defaults --user alice");
        assert_eq!(
            (e.types.clone(), e.names.clone()),
            (vec![Users, Clients], names(&["alice", ""]))
        );
        let e = entities("--user-defaults");
        assert_eq!(
            (e.types.clone(), e.names.clone()),
            (vec![Users], names(&[""]))
        );
        assert_eq!(
            e.completed_line(),
            "Completed updating default config for users in the cluster."
        );
        let e = entities("--user-defaults --client-defaults");
        assert_eq!((e.types, e.names), (vec![Clients, Users], names(&["", ""])));
    }

    #[test]
    fn entity_refusals_use_kafkas_words() {
        let refusal = |line: &str| message(Entities::from_args(&args(line)));
        assert_eq!(
            refusal("--entity-type users --entity-type clients --entity-type users"),
            "Duplicate entity type(s) specified: users"
        );
        assert_eq!(
            refusal("--user a --entity-type users --entity-name b"),
            "Duplicate entity type(s) specified: users"
        );
        assert_eq!(
            refusal("--client a --entity-type users"),
            "--entity-{type,name,default} should not be used in conjunction with specific entity flags"
        );
        assert_eq!(
            refusal("--user a --entity-name b"),
            "--entity-{type,name,default} should not be used in conjunction with specific entity flags"
        );
        assert_eq!(
            refusal("--entity-name b"),
            "At least one entity type must be specified"
        );
        assert!(matches!(
            Entities::from_args(&args("--entity-type topics --entity-name t")),
            Err(CliError::Unavailable(m)) if m.contains("not 'topics' yet")
        ));
        for other in ["brokers", "ips"] {
            assert!(refusal(&format!("--entity-type {other}")).contains(other));
        }

        let alter = |line: &str| message(entities(line).check_alter());
        assert_eq!(
            alter("--entity-type clients"),
            "An entity-name or default entity must be specified with --alter of users, clients, \
             brokers or ips"
        );
        assert_eq!(
            alter("--entity-type users --entity-name u --entity-type clients"),
            "An entity name must be specified for every entity type"
        );
        assert!(entities("--user u --client-defaults").check_alter().is_ok());
        assert_eq!(
            message(entities("--entity-type users --entity-name a --entity-name b").quota_filter()),
            "More entity names specified than entity types"
        );
    }

    #[test]
    fn the_describe_filter_is_kafkas() {
        let filter = |line: &str| entities(line).quota_filter().unwrap();
        assert_eq!(
            filter("--entity-type clients --entity-name app"),
            vec![("client-id".into(), QuotaMatch::Exact("app".into()))]
        );
        assert_eq!(
            filter("--entity-type clients --entity-default"),
            vec![("client-id".into(), QuotaMatch::Default)]
        );
        assert_eq!(
            filter("--entity-type users --entity-default --entity-type clients"),
            vec![
                ("user".into(), QuotaMatch::Default),
                ("client-id".into(), QuotaMatch::Specified)
            ]
        );
        assert_eq!(
            filter("--user alice --client app"),
            vec![
                ("client-id".into(), QuotaMatch::Exact("app".into())),
                ("user".into(), QuotaMatch::Exact("alice".into()))
            ]
        );
        // Users alone (named or not) describe their credentials too; clients or a default not.
        assert!(entities("--entity-type users").describes_scram());
        assert!(entities("--user alice").describes_scram());
        assert!(!entities("--user-defaults").describes_scram());
        assert!(
            !entities("--entity-type users --entity-name a --entity-type clients")
                .describes_scram()
        );
        assert!(!entities("--entity-type clients").describes_scram());
    }

    fn changes(line: &str) -> CliResult<ConfigChanges> {
        ConfigChanges::from_args(&args(line))
    }

    fn plan(line: &str) -> CliResult<Alteration> {
        let args = args(line);
        let entities = Entities::from_args(&args)?;
        entities.check_alter()?;
        plan_alteration(&entities, &ConfigChanges::from_args(&args)?)
    }

    #[test]
    fn config_changes_read_as_kafka_reads_them() {
        let c = ConfigChanges::from_args(&args_of(&[
            "--add-config",
            "producer_byte_rate=1024, consumer_byte_rate = [2048],producer_byte_rate=1",
            "--delete-config",
            "request_percentage, x",
            "--delete-config",
            "y",
        ]))
        .unwrap();
        assert_eq!(
            c.added,
            vec![
                ("producer_byte_rate".into(), "1".into()),
                ("consumer_byte_rate".into(), "2048".into())
            ]
        );
        assert_eq!(c.deleted, names(&["request_percentage", "x", "y"]));
        assert_eq!(
            message(changes("--entity-type clients")),
            "At least one of --add-config or --delete-config must be specified with --alter"
        );
        assert!(message(changes("--add-config producer_byte_rate")).contains("key=val"));
    }

    #[test]
    fn quota_alterations_are_one_entry_of_sets_then_removals() {
        let alteration = plan(
            "--entity-type users --entity-name alice --entity-type clients --entity-default \
             --add-config producer_byte_rate=1024,request_percentage=12.5 \
             --delete-config consumer_byte_rate",
        )
        .unwrap();
        assert_eq!(
            alteration,
            Alteration::Quotas {
                entity: vec![
                    ("user".into(), Some("alice".into())),
                    ("client-id".into(), None)
                ],
                ops: vec![
                    ("producer_byte_rate".into(), Some(1024.0)),
                    ("request_percentage".into(), Some(12.5)),
                    ("consumer_byte_rate".into(), None),
                ],
            }
        );
        // A user's quota takes the quota path too, and so does a default's.
        assert!(matches!(
            plan("--user-defaults --add-config consumer_byte_rate=1e6").unwrap(),
            Alteration::Quotas { ops, .. } if ops == vec![("consumer_byte_rate".into(), Some(1e6))]
        ));
        assert_eq!(
            message(plan("--client app --add-config producer_byte_rate=fast")),
            "Cannot parse quota configuration value for producer_byte_rate: fast"
        );
    }

    #[test]
    fn scram_alterations_keep_their_path() {
        let alteration = plan(
            "--entity-type users --entity-name alice --add-config \
             SCRAM-SHA-256=[iterations=8192,password=p] --delete-config SCRAM-SHA-512",
        )
        .unwrap();
        assert_eq!(
            alteration,
            Alteration::Scram {
                user: "alice".into(),
                upsertions: vec![NewCredential {
                    mechanism: ScramMechanism::Sha256,
                    iterations: 8192,
                    password: "p".into(),
                }],
                deletions: vec![ScramMechanism::Sha512],
            }
        );
    }

    #[test]
    fn key_refusals_use_kafkas_words_and_order() {
        // Kafka lists the names from a HashSet: its order, not the command line's.
        assert_eq!(
            message(plan("--entity-type clients --entity-name app --add-config retention.ms=1,SCRAM-SHA-256=[password=p]")),
            "Only quota configs can be added for 'clients' using --bootstrap-server. Unexpected \
             config names: SCRAM-SHA-256,retention.ms"
        );
        assert_eq!(
            message(plan(
                "--client app --add-config \
                 retention.ms=1,foo=2,SCRAM-SHA-512=[password=x],SCRAM-SHA-256=[password=y]"
            )),
            "Only quota configs can be added for 'clients' using --bootstrap-server. Unexpected \
             config names: SCRAM-SHA-512,SCRAM-SHA-256,foo,retention.ms"
        );
        assert_eq!(
            message(plan("--client app --delete-config SCRAM-SHA-256")),
            "Only quota configs can be deleted for 'clients' using --bootstrap-server. Unexpected \
             config names: SCRAM-SHA-256"
        );
        // A user's clients take quotas only, even with the user first.
        assert!(message(plan(
            "--entity-type users --entity-name u --entity-type clients --entity-name c \
             --add-config SCRAM-SHA-256=[password=p]"
        ))
        .starts_with("Only quota configs can be added for 'clients'"));
        assert_eq!(
            message(plan("--user alice --add-config retention.ms=1")),
            "Only quota and SCRAM credential configs can be added for 'users' using \
             --bootstrap-server. Unexpected config names: retention.ms"
        );
        assert_eq!(
            message(plan("--user alice --delete-config retention.ms")),
            "Only quota and SCRAM credential configs can be deleted for 'users' using \
             --bootstrap-server. Unexpected config names: retention.ms"
        );
        assert_eq!(
            message(plan(
                "--user alice --add-config SCRAM-SHA-256=[password=p] --delete-config \
                 producer_byte_rate"
            )),
            "Cannot alter both quota and SCRAM credential configs simultaneously for 'users' \
             using --bootstrap-server."
        );
        for defaults in ["--user-defaults", "--entity-type users --entity-default"] {
            assert_eq!(
                message(plan(&format!(
                    "{defaults} --add-config SCRAM-SHA-512=[password=p]"
                ))),
                "The use of --entity-default or --user-defaults is not allowed with User SCRAM \
                 Credentials using --bootstrap-server."
            );
        }
    }

    #[test]
    fn only_set_quotas_can_be_deleted() {
        let described = vec![EntityQuotas {
            entity: vec![("client-id".into(), Some("app".into()))],
            values: vec![("producer_byte_rate".into(), 1024.0)],
        }];
        assert!(check_deletions(&described, &names(&["producer_byte_rate"])).is_ok());
        assert_eq!(
            message(check_deletions(
                &described,
                &names(&[
                    "consumer_byte_rate",
                    "producer_byte_rate",
                    "request_percentage"
                ])
            )),
            "Invalid config(s): consumer_byte_rate,request_percentage"
        );
        assert_eq!(
            message(check_deletions(&[], &names(&["producer_byte_rate"]))),
            "Invalid config(s): producer_byte_rate"
        );
        assert!(check_deletions(&[], &[]).is_ok());
    }

    #[test]
    fn doubles_print_as_java_prints_them() {
        // Double.toString's output on JDK 25, for these doubles' bits.
        let java: &[(u64, &str)] = &[
            (4652218415073722368, "1024.0"),
            (4602678819172646912, "0.5"),
            (4711891110136381440, "1.048576E7"),
            (4547007122018943789, "1.0E-4"),
            (4711630319722168320, "1.0E7"),
            (4711630319185297408, "9999999.0"),
            (4562254508917369340, "0.001"),
            (4562208392057185066, "9.9E-4"),
            (4638387860618067575, "123.456"),
            (4950912855330343670, "1.0E23"),
            (1, "4.9E-324"),
            (3, "1.5E-323"),
            // A tie between two shortest forms: Java takes the even digit.
            (4836575078286773981, "2.1790694364005672E15"),
            (60720675992193, "3.0E-310"),
            (9218868437227405311, "1.7976931348623157E308"),
            (4599075939470750516, "0.30000000000000004"),
            (4921056587992461136, "1.0E21"),
            (4566758108544739836, "0.002"),
            (9223372036854775808, "-0.0"),
            (0, "0.0"),
            (9221120237041090560, "NaN"),
            (9218868437227405312, "Infinity"),
            (18442240474082181120, "-Infinity"),
            (4890909195324358656, "9.223372036854776E18"),
            (4746794007244308480, "2.147483647E9"),
            (4712889646009286656, "1.2345678E7"),
            (13832806255468478464, "-1.5"),
            (4532020583610935537, "1.0E-5"),
            (4537999922764202797, "2.5E-5"),
            (4846369599423283200, "1.0E16"),
            (4772899269882675200, "1.23456789012E11"),
            (4503599627370496, "2.2250738585072014E-308"),
            (4936209963552724370, "1.0E22"),
            (4934958393344299186, "8.41E21"),
        ];
        for (bits, printed) in java {
            let value = f64::from_bits(*bits);
            assert_eq!(fmt_java_double(value), *printed, "{value:e}");
        }
        assert_eq!(fmt_java_double(2048.0), "2048.0");
        assert_eq!(fmt_java_double(1_000_000.0), "1000000.0");
    }

    #[test]
    fn quota_values_read_as_java_reads_them() {
        let read = |text| parse_java_double(text);
        assert_eq!(read(" 1024 "), Some(1024.0));
        assert_eq!(read("1e3"), Some(1000.0));
        assert_eq!(read("10d"), Some(10.0));
        assert_eq!(read("1.1f"), Some(1.1));
        assert_eq!(read("+.5"), Some(0.5));
        assert_eq!(read("1."), Some(1.0));
        assert_eq!(read("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(read("+NaN").unwrap().is_nan());
        for refused in [
            "inf", "nan", "infinity", "1_000", "1e", "e5", ".", " ", "", "1 0", "d",
        ] {
            assert_eq!(read(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn java_hash_orders_match_java() {
        assert_eq!(java_string_hash("producer_byte_rate"), -832502454);
        assert_eq!(java_string_hash("client-id"), -1904137635);
        assert_eq!(java_string_hash(""), 0);
        // new HashMap<>(n) with these keys put in this order, as Java iterates it.
        let keys = |list: &[&str]| {
            let pairs = list.iter().map(|key| (key.to_string(), ())).collect();
            let ordered: Vec<String> = java_hash_map(pairs).into_iter().map(|(k, _)| k).collect();
            ordered.join(",")
        };
        assert_eq!(
            keys(&["producer_byte_rate", "consumer_byte_rate"]),
            "consumer_byte_rate,producer_byte_rate"
        );
        assert_eq!(
            keys(&[
                "controller_mutation_rate",
                "request_percentage",
                "consumer_byte_rate",
                "producer_byte_rate"
            ]),
            "producer_byte_rate,consumer_byte_rate,controller_mutation_rate,request_percentage"
        );
        assert_eq!(java_table_size(0, 0), 1);
        assert_eq!(java_table_size(1, 1), 2);
        assert_eq!(java_table_size(2, 2), 4);
        assert_eq!(java_table_size(4, 4), 8);
        assert_eq!(java_table_size(16, 12), 16);
        assert_eq!(java_table_size(16, 13), 32);
        assert_eq!(java_table_size(20, 20), 32);
    }

    fn quotas(entity: &[(&str, Option<&str>)], values: &[(&str, f64)]) -> EntityQuotas {
        EntityQuotas {
            entity: (entity.iter())
                .map(|(t, n)| (t.to_string(), n.map(String::from)))
                .collect(),
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    /// Each answer's lines as kafka-configs prints them (`describeQuotaConfigs` over the
    /// admin client's maps, run on JDK 25 for the same answers).
    #[test]
    fn describe_lines_are_kafkas() {
        let clients = vec![
            quotas(
                &[("client-id", Some("app"))],
                &[
                    ("producer_byte_rate", 1024.0),
                    ("consumer_byte_rate", 2048.0),
                ],
            ),
            quotas(&[("client-id", None)], &[("request_percentage", 12.5)]),
            quotas(
                &[("client-id", Some("other"))],
                &[
                    ("producer_byte_rate", 10485760.0),
                    ("consumer_byte_rate", 0.0001),
                    ("request_percentage", 200.0),
                    ("controller_mutation_rate", 0.5),
                ],
            ),
            quotas(&[("client-id", Some("z"))], &[("consumer_byte_rate", 1e7)]),
        ];
        assert_eq!(
            quota_lines(clients),
            [
                "Quota configs for client-id 'app' are consumer_byte_rate=2048.0, producer_byte_rate=1024.0",
                "Quota configs for the default client-id are request_percentage=12.5",
                "Quota configs for client-id 'other' are producer_byte_rate=1.048576E7, \
                 consumer_byte_rate=1.0E-4, controller_mutation_rate=0.5, request_percentage=200.0",
                "Quota configs for client-id 'z' are consumer_byte_rate=1.0E7",
            ]
        );
        let users = vec![
            quotas(
                &[("user", Some("alice"))],
                &[("producer_byte_rate", 1024.0)],
            ),
            quotas(&[("user", Some("bob"))], &[("consumer_byte_rate", 2048.0)]),
            quotas(&[("user", None)], &[("producer_byte_rate", 4096.0)]),
        ];
        assert_eq!(
            quota_lines(users),
            [
                "Quota configs for the default user-principal are producer_byte_rate=4096.0",
                "Quota configs for user-principal 'alice' are producer_byte_rate=1024.0",
                "Quota configs for user-principal 'bob' are consumer_byte_rate=2048.0",
            ]
        );
        let pairs = vec![
            quotas(
                &[("user", Some("alice")), ("client-id", Some("app"))],
                &[
                    ("producer_byte_rate", 1024.0),
                    ("consumer_byte_rate", 2048.0),
                ],
            ),
            quotas(
                &[("client-id", Some("app")), ("user", None)],
                &[("producer_byte_rate", 1.0)],
            ),
            quotas(
                &[("user", Some("alice")), ("client-id", None)],
                &[("consumer_byte_rate", 2.0)],
            ),
            quotas(
                &[("user", None), ("client-id", None)],
                &[("request_percentage", 3.0)],
            ),
            quotas(
                &[("user", Some("")), ("client-id", Some("x"))],
                &[("request_percentage", 4.0)],
            ),
        ];
        assert_eq!(
            quota_lines(pairs),
            [
                "Quota configs for user-principal 'alice', client-id 'app' are \
                 consumer_byte_rate=2048.0, producer_byte_rate=1024.0",
                "Quota configs for the default user-principal, client-id 'app' are producer_byte_rate=1.0",
                "Quota configs for user-principal 'alice', the default client-id are consumer_byte_rate=2.0",
                "Quota configs for the default user-principal, the default client-id are \
                 request_percentage=3.0",
                "Quota configs for the default user-principal, client-id 'x' are request_percentage=4.0",
            ]
        );
        // A repeated entity keeps its first place and its last values; a repeated key its last.
        let repeats = vec![
            quotas(
                &[("client-id", Some("app"))],
                &[("producer_byte_rate", 1.0), ("producer_byte_rate", 2.0)],
            ),
            quotas(&[("client-id", Some("b"))], &[("producer_byte_rate", 3.0)]),
            quotas(
                &[("client-id", Some("app"))],
                &[("consumer_byte_rate", 4.0)],
            ),
        ];
        assert_eq!(
            quota_lines(repeats),
            [
                "Quota configs for client-id 'app' are consumer_byte_rate=4.0",
                "Quota configs for client-id 'b' are producer_byte_rate=3.0",
            ]
        );
        // Twenty entities: a table grown past its first size.
        let twenty = (0..20)
            .map(|i| {
                let name = format!("client-{i}");
                quotas(
                    &[("client-id", Some(&name))],
                    &[("producer_byte_rate", 1000.0 * (i + 1) as f64)],
                )
            })
            .collect();
        let order: Vec<String> = (quota_lines(twenty).iter())
            .map(|line| line.split('\'').nth(1).unwrap().to_owned())
            .collect();
        let java = "7 2 5 4 6 9 8 3 18 17 1 0 19 14 13 16 15 10 12 11";
        let java: Vec<String> = java.split(' ').map(|i| format!("client-{i}")).collect();
        assert_eq!(order, java);
    }

    #[test]
    fn describe_lines_come_from_the_answer() {
        use kafka_protocol::messages::describe_client_quotas_response::{
            EntityData, EntryData, ValueData,
        };
        use kafka_protocol::messages::DescribeClientQuotasResponse;
        let response =
            DescribeClientQuotasResponse::default().with_entries(Some(vec![EntryData::default()
                .with_entity(vec![EntityData::default()
                    .with_entity_type(StrBytes::from_static_str("client-id"))
                    .with_entity_name(None)])
                .with_values(vec![ValueData::default()
                    .with_key(StrBytes::from_static_str("producer_byte_rate"))
                    .with_value(1048576.0)])]));
        let described = crate::cli::client::admin::described_quotas(response).unwrap();
        assert_eq!(
            quota_lines(described),
            ["Quota configs for the default client-id are producer_byte_rate=1048576.0"]
        );
    }

    #[test]
    fn add_config_takes_kafkas_form() {
        let parsed = scram_credentials(
            &parse_config_pairs(
                "SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=a=b,c]",
            )
            .unwrap(),
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
        let plain =
            scram_credentials(&[("SCRAM-SHA-512".into(), "iterations=-1,password=x".into())])
                .unwrap();
        assert_eq!(plain[0].iterations, 4096);
    }

    #[test]
    fn add_config_refusals_use_kafkas_words_and_never_echo_the_password() {
        let refusal = |configs: &str| {
            let pairs = parse_config_pairs(configs);
            message(pairs.and_then(|pairs| scram_credentials(&pairs)))
        };
        assert_eq!(
            refusal("SCRAM-SHA-256=[iterations=4095,password=p]"),
            "Iterations 4095 is less than the minimum 4096 required for SCRAM-SHA-256"
        );
        assert_eq!(
            refusal("SCRAM-SHA-512=[iterations=16385,password=p]"),
            "Iterations 16385 is more than the maximum 16384 allowed for SCRAM-SHA-512"
        );
        assert!(refusal("SCRAM-SHA-256").contains("key=val"));
        let bad = refusal("SCRAM-SHA-256=[secret-word]");
        assert!(bad.contains("Invalid credential property") && !bad.contains("secret-word"));
        // Mechanism names are case-sensitive, as Kafka's.
        assert!(
            message(plan("--user u --add-config scram-sha-256=[password=p]"))
                .contains("Unexpected config names: scram-sha-256")
        );
    }

    #[test]
    fn delete_config_takes_mechanisms() {
        let alteration = plan("--user u --delete-config SCRAM-SHA-256,SCRAM-SHA-512");
        assert!(matches!(
            alteration.unwrap(),
            Alteration::Scram { deletions, .. }
                if deletions == vec![ScramMechanism::Sha256, ScramMechanism::Sha512]
        ));
        assert!(message(plan("--user u --delete-config SCRAM-SHA-1")).contains("SCRAM-SHA-1"));
    }

    #[test]
    fn salts_are_drawn_afresh() {
        let (a, b) = (kafka_salt(), kafka_salt());
        assert_ne!(a, b);
        assert!(a.len() <= 26 && a.iter().all(|c| c.is_ascii_alphanumeric()));
    }
}
