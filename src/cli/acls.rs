//! `rill acls`: kafka-acls.sh (Kafka's `AclCommand`) through CreateAcls, DescribeAcls and
//! DeleteAcls to any broker (its voter forwards a change to the controller quorum's leader).
//!
//! Flags, defaults and output lines are kafka-acls': an ACL's hosts default to `*`, its
//! operations to `All`; `--add` and `--remove` list the resources' ACLs afterwards; a
//! `--remove` without `--force` asks on standard input (a `y` line goes on, as kafka-acls
//! reads it — so `echo y | rill acls --remove ...` works; end of input is a no).

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    ApiKey, CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::args::{Args, Spec};
use super::client::connection::Connection;
use super::client::ClientError;
use super::{client_config, connect, CliError, CliResult, COMMAND_CONFIG};
use crate::security::acl::{
    AccessControlEntry, AclOperation, AclPermissionType, AuthorizerSettings, PatternType,
    ResourcePattern, ResourcePatternFilter, ResourceType, CLUSTER_NAME, WILDCARD_HOST,
};
use crate::types::ErrorCode;

pub const USAGE: &str = "\
USAGE:
    rill acls --bootstrap-server H:P --add|--remove|--list [OPTIONS]
    [--command-config FILE]   client properties for a secured listener (security.protocol,
                              ssl.*, sasl.mechanism, sasl.jaas.config), as kafka-acls takes

    ACLs, as kafka-acls manages them (KIP-140); the brokers need
    authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer.

    --add | --remove | --list       the action
    --allow-principal P             User:NAME (repeatable); --deny-principal P the same for DENY
    --allow-host H, --deny-host H   the hosts of the allow/deny ACLs (repeatable; default *)
    --operation OP                  repeatable, default All: Read, Write, Create, Delete, Alter,
                                    Describe, ClusterAction, DescribeConfigs, AlterConfigs,
                                    IdempotentWrite, All
    --topic T, --group G, --transactional-id ID (repeatable), --cluster: the resources
    --resource-pattern-type literal|prefixed|match|any   default literal (match and any only
                                    to select, with --list and --remove)
    --principal P                   with --list: only this principal's ACLs
    --producer                      with --add/--remove: WRITE, DESCRIBE, CREATE on the topics,
                                    WRITE, DESCRIBE on the transactional ids, and with
                                    --idempotent IDEMPOTENT_WRITE on the cluster
    --consumer                      with --add/--remove: READ, DESCRIBE on the topics, READ on
                                    the groups (needs --group)
    --force                         remove without asking
";

pub(super) const SPEC: Spec = Spec {
    switches: &[
        "--add",
        "--remove",
        "--list",
        "--cluster",
        "--force",
        "--producer",
        "--consumer",
        "--idempotent",
    ],
    values: &[
        "--bootstrap-server",
        "--command-config",
        "--allow-principal",
        "--deny-principal",
        "--allow-host",
        "--deny-host",
        "--operation",
        "--topic",
        "--group",
        "--transactional-id",
        "--resource-pattern-type",
        "--principal",
    ],
    properties: &[],
};

/// The cluster's one resource filter (`AclCommand.ClusterResourceFilter`).
fn cluster_filter() -> ResourcePatternFilter {
    ResourcePatternFilter::new(
        ResourceType::Cluster,
        Some(CLUSTER_NAME),
        PatternType::Literal,
    )
}

pub async fn run(raw: &[String]) -> CliResult {
    let args = Args::parse(raw, &SPEC)?;
    let action = args.one_of(&["--add", "--remove", "--list"])?;
    let pattern_type = pattern_type(&args)?;
    if action == "--add" && matches!(pattern_type, PatternType::Any | PatternType::Match) {
        return Err(CliError::Usage(format!(
            "A '--resource-pattern-type' value of '{}' is not valid when adding acls.",
            pattern_type.name()
        )));
    }
    if action == "--list" && (args.has("--producer") || args.has("--consumer")) {
        return Err(CliError::Usage(
            "--producer and --consumer go with --add or --remove".into(),
        ));
    }
    if args.has("--consumer") && args.values("--group").is_empty() {
        return Err(CliError::Usage(
            "With --consumer you must specify a --group".into(),
        ));
    }
    let config = client_config::admin(&args, COMMAND_CONFIG)?;
    let client = connect(args.required("--bootstrap-server")?, &config).await?;
    let connection = client.bootstrap();
    match action {
        "--add" => add(&connection, &args, pattern_type).await?,
        "--remove" => remove(&connection, &args, pattern_type).await?,
        _ => {}
    }
    list(&connection, &args, pattern_type).await
}

fn pattern_type(args: &Args) -> CliResult<PatternType> {
    let Some(text) = args.value("--resource-pattern-type") else {
        return Ok(PatternType::Literal);
    };
    match PatternType::from_name(text.trim()) {
        PatternType::Unknown => Err(CliError::Usage(format!(
            "Unrecognized resource pattern type '{text}': give literal, prefixed, match or any"
        ))),
        known => Ok(known),
    }
}

/// The resources named (`AclCommand.getResourceFilter`), in the order given; with
/// `must_name_one`, none is a usage error.
fn resource_filters(
    args: &Args,
    pattern_type: PatternType,
    must_name_one: bool,
) -> CliResult<Vec<ResourcePatternFilter>> {
    let mut filters: Vec<ResourcePatternFilter> = Vec::new();
    let mut push = |filter: ResourcePatternFilter| {
        if !filters.contains(&filter) {
            filters.push(filter);
        }
    };
    for topic in args.values("--topic") {
        push(ResourcePatternFilter::new(
            ResourceType::Topic,
            Some(topic.trim()),
            pattern_type,
        ));
    }
    if pattern_type == PatternType::Literal && (args.has("--cluster") || args.has("--idempotent")) {
        push(cluster_filter());
    }
    for group in args.values("--group") {
        push(ResourcePatternFilter::new(
            ResourceType::Group,
            Some(group.trim()),
            pattern_type,
        ));
    }
    for id in args.values("--transactional-id") {
        push(ResourcePatternFilter::new(
            ResourceType::TransactionalId,
            Some(id.trim()),
            pattern_type,
        ));
    }
    if filters.is_empty() && must_name_one {
        return Err(CliError::Usage(
            "You must provide at least one resource: --topic <topic> or --cluster or --group \
             <group> or --transactional-id <id>"
                .into(),
        ));
    }
    Ok(filters)
}

/// `User:name` texts of a principal flag (Kafka's `SecurityUtils.parseKafkaPrincipal`).
fn principals(args: &Args, flag: &str) -> CliResult<Vec<String>> {
    let mut out = Vec::new();
    for principal in args.values(flag) {
        let principal = principal.trim();
        AuthorizerSettings::parse_super_users(principal).map_err(CliError::Usage)?;
        if !out.iter().any(|p| p == principal) {
            out.push(principal.to_owned());
        }
    }
    Ok(out)
}

/// The hosts of the allow or deny ACLs: as given, else `*` when principals are.
fn hosts(args: &Args, host_flag: &str, principal_flag: &str) -> Vec<String> {
    let given = args.values(host_flag);
    if !given.is_empty() {
        return given.iter().map(|h| h.trim().to_owned()).collect();
    }
    if args.values(principal_flag).is_empty() {
        Vec::new()
    } else {
        vec![WILDCARD_HOST.to_owned()]
    }
}

/// The `--operation`s (default All), by kafka-acls' names.
fn operations(args: &Args) -> CliResult<BTreeSet<AclOperation>> {
    let given = args.values("--operation");
    if given.is_empty() {
        return Ok(BTreeSet::from([AclOperation::All]));
    }
    (given.iter())
        .map(|name| match AclOperation::from_pascal_name(name.trim()) {
            AclOperation::Unknown | AclOperation::Any => Err(CliError::Usage(format!(
                "Unrecognized operation '{name}': one of Read, Write, Create, Delete, Alter, \
                 Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, All"
            ))),
            operation => Ok(operation),
        })
        .collect()
}

/// The entries the principal, host and operation flags name (`AclCommand.getAcl`).
fn entries(
    args: &Args,
    operations: &BTreeSet<AclOperation>,
) -> CliResult<BTreeSet<AccessControlEntry>> {
    let mut out = BTreeSet::new();
    let sides = [
        (
            "--allow-principal",
            "--allow-host",
            AclPermissionType::Allow,
        ),
        ("--deny-principal", "--deny-host", AclPermissionType::Deny),
    ];
    for (principal_flag, host_flag, permission) in sides {
        for principal in principals(args, principal_flag)? {
            for host in hosts(args, host_flag, principal_flag) {
                for operation in operations {
                    out.insert(AccessControlEntry::new(
                        &principal, &host, *operation, permission,
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// Each resource filter with the entries to add or remove there (`AclCommand.
/// getResourceFilterToAcls`): from the flags, or the `--producer` / `--consumer` sets.
fn filter_to_entries(
    args: &Args,
    pattern_type: PatternType,
) -> CliResult<Vec<(ResourcePatternFilter, BTreeSet<AccessControlEntry>)>> {
    let filters = resource_filters(args, pattern_type, true)?;
    let mut out: Vec<(ResourcePatternFilter, BTreeSet<AccessControlEntry>)> = Vec::new();
    let mut add = |filter: &ResourcePatternFilter, entries: BTreeSet<AccessControlEntry>| match out
        .iter_mut()
        .find(|(f, _)| f == filter)
    {
        Some((_, existing)) => existing.extend(entries),
        None => out.push((filter.clone(), entries)),
    };
    let of_type = |t: ResourceType| filters.iter().filter(move |f| f.resource_type == t);
    use AclOperation::*;
    if !args.has("--producer") && !args.has("--consumer") {
        let entries = entries(args, &operations(args)?)?;
        for filter in &filters {
            add(filter, entries.clone());
        }
    }
    if args.has("--producer") {
        for topic in of_type(ResourceType::Topic) {
            add(
                topic,
                entries(args, &BTreeSet::from([Write, Describe, Create]))?,
            );
        }
        for id in of_type(ResourceType::TransactionalId) {
            add(id, entries(args, &BTreeSet::from([Write, Describe]))?);
        }
        if args.has("--idempotent") {
            add(
                &cluster_filter(),
                entries(args, &BTreeSet::from([IdempotentWrite]))?,
            );
        }
    }
    if args.has("--consumer") {
        for topic in of_type(ResourceType::Topic) {
            add(topic, entries(args, &BTreeSet::from([Read, Describe]))?);
        }
        for group in of_type(ResourceType::Group) {
            add(group, entries(args, &BTreeSet::from([Read]))?);
        }
    }
    Ok(out)
}

/// Kafka's `AclEntry.supportedOperations` (and ALL) of a resource type.
fn supported_operations(resource_type: ResourceType) -> &'static [AclOperation] {
    use AclOperation::*;
    match resource_type {
        ResourceType::Topic => &[
            Read,
            Write,
            Create,
            Describe,
            Delete,
            Alter,
            DescribeConfigs,
            AlterConfigs,
            All,
        ],
        ResourceType::Group => &[Read, Describe, Delete, DescribeConfigs, AlterConfigs, All],
        ResourceType::Cluster => &[
            Create,
            ClusterAction,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
            Alter,
            Describe,
            All,
        ],
        ResourceType::TransactionalId => &[Describe, Write, All],
        _ => &[All],
    }
}

/// The lines kafka-acls prints for a resource's entries: a header, then a tab and an entry a
/// line (Scala's `s"...: $Newline ${...} $Newline"`, spaces included).
fn print_resource(
    header: &str,
    pattern: &dyn std::fmt::Display,
    entries: &BTreeSet<AccessControlEntry>,
) {
    let lines: Vec<String> = entries.iter().map(|e| format!("\t{e}")).collect();
    println!("{header} `{pattern}`: \n {} \n", lines.join("\n"));
}

async fn add(connection: &Connection, args: &Args, pattern_type: PatternType) -> CliResult {
    let plan = filter_to_entries(args, pattern_type)?;
    for (filter, entries) in &plan {
        let valid = supported_operations(filter.resource_type);
        if entries.iter().any(|e| !valid.contains(&e.operation)) {
            let names: Vec<&str> = valid.iter().map(|o| o.pascal_name()).collect();
            return Err(CliError::Usage(format!(
                "ResourceType {} only supports operations {}",
                filter.resource_type.name(),
                names.join(", ")
            )));
        }
        if entries.is_empty() {
            return Err(CliError::Usage(
                "You must specify one of: --allow-principal, --deny-principal when trying to \
                 add ACLs."
                    .into(),
            ));
        }
    }
    for (filter, entries) in plan {
        let name = filter.name.clone().unwrap_or_default();
        let pattern = ResourcePattern::new(filter.resource_type, &name, filter.pattern_type);
        print_resource("Adding ACLs for resource", &pattern, &entries);
        let creations = (entries.iter())
            .map(|e| {
                AclCreation::default()
                    .with_resource_type(pattern.resource_type.code())
                    .with_resource_name(StrBytes::from_string(name.clone()))
                    .with_resource_pattern_type(pattern.pattern_type.code())
                    .with_principal(StrBytes::from_string(e.principal.clone()))
                    .with_host(StrBytes::from_string(e.host.clone()))
                    .with_operation(e.operation.code())
                    .with_permission_type(e.permission.code())
            })
            .collect();
        let request = CreateAclsRequest::default().with_creations(creations);
        let version = version(connection, ApiKey::CreateAcls)?;
        let response: CreateAclsResponse = connection
            .call(ApiKey::CreateAcls, version, &request)
            .await?;
        let results = response.results.iter();
        ClientError::first_refusal(results.map(|r| (r.error_code, r.error_message.as_deref())))?;
    }
    Ok(())
}

/// Kafka's `confirmAction`: `--force`, or a `y` line on standard input.
fn confirmed(args: &Args, question: &str) -> bool {
    if args.has("--force") {
        return true;
    }
    println!("{question}");
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => {
            eprintln!("No answer on standard input: nothing removed (give --force to remove without asking).");
            false
        }
        Ok(_) => line.trim().eq_ignore_ascii_case("y"),
    }
}

async fn remove(connection: &Connection, args: &Args, pattern_type: PatternType) -> CliResult {
    for (filter, entries) in filter_to_entries(args, pattern_type)? {
        let shown = filter_text(&filter);
        let question = if entries.is_empty() {
            format!("Are you sure you want to delete all ACLs for resource filter `{shown}`? (y/n)")
        } else {
            let lines: Vec<String> = entries.iter().map(|e| format!("\t{e}")).collect();
            format!(
                "Are you sure you want to remove ACLs: \n {} \n from resource filter `{shown}`? (y/n)",
                lines.join("\n")
            )
        };
        if !confirmed(args, &question) {
            continue;
        }
        let wire = |principal: Option<String>,
                    host: Option<String>,
                    op: AclOperation,
                    perm: AclPermissionType| {
            DeleteAclsFilter::default()
                .with_resource_type_filter(filter.resource_type.code())
                .with_resource_name_filter(filter.name.clone().map(StrBytes::from_string))
                .with_pattern_type_filter(filter.pattern_type.code())
                .with_principal_filter(principal.map(StrBytes::from_string))
                .with_host_filter(host.map(StrBytes::from_string))
                .with_operation(op.code())
                .with_permission_type(perm.code())
        };
        let filters = if entries.is_empty() {
            vec![wire(None, None, AclOperation::Any, AclPermissionType::Any)]
        } else {
            (entries.into_iter())
                .map(|e| wire(Some(e.principal), Some(e.host), e.operation, e.permission))
                .collect()
        };
        let request = DeleteAclsRequest::default().with_filters(filters);
        let version = version(connection, ApiKey::DeleteAcls)?;
        let response: DeleteAclsResponse = connection
            .call(ApiKey::DeleteAcls, version, &request)
            .await?;
        let results = response.filter_results.iter();
        ClientError::first_refusal(results.map(|r| (r.error_code, r.error_message.as_deref())))?;
    }
    Ok(())
}

/// Kafka's `ResourcePatternFilter.toString`.
fn filter_text(filter: &ResourcePatternFilter) -> String {
    format!(
        "ResourcePattern(resourceType={}, name={}, patternType={})",
        filter.resource_type,
        filter.name.as_deref().unwrap_or("<any>"),
        filter.pattern_type
    )
}

fn version(connection: &Connection, api: ApiKey) -> CliResult<i16> {
    connection
        .version(api)
        .map_err(|_| CliError::Failed(format!("the broker does not serve {api:?}")))
}

/// kafka-acls' listing (`AclCommand.listAcls`): every resource the flags name (every one, when
/// none), its ACLs; with `--principal`, only those principals' ACLs, under a line each.
async fn list(connection: &Connection, args: &Args, pattern_type: PatternType) -> CliResult {
    let mut filters = resource_filters(args, pattern_type, false)?;
    if filters.is_empty() {
        filters.push(ResourcePatternFilter::ANY);
    }
    let version = version(connection, ApiKey::DescribeAcls)?;
    let mut found: BTreeMap<ResourcePattern, BTreeSet<AccessControlEntry>> = BTreeMap::new();
    for filter in filters {
        let request = DescribeAclsRequest::default()
            .with_resource_type_filter(filter.resource_type.code())
            .with_resource_name_filter(filter.name.map(StrBytes::from_string))
            .with_pattern_type_filter(filter.pattern_type.code())
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_operation(AclOperation::Any.code())
            .with_permission_type(AclPermissionType::Any.code());
        let response: DescribeAclsResponse = connection
            .call(ApiKey::DescribeAcls, version, &request)
            .await?;
        let code = ErrorCode::from_wire(response.error_code);
        if let Some(e) = ClientError::from_code(code, response.error_message.as_deref()) {
            return Err(e.into());
        }
        for resource in response.resources {
            let pattern = ResourcePattern::new(
                ResourceType::from_code(resource.resource_type),
                &resource.resource_name,
                PatternType::from_code(resource.pattern_type),
            );
            let entries = found.entry(pattern).or_default();
            for acl in resource.acls {
                entries.insert(AccessControlEntry::new(
                    &acl.principal,
                    &acl.host,
                    AclOperation::from_code(acl.operation),
                    AclPermissionType::from_code(acl.permission_type),
                ));
            }
        }
    }
    let only = principals(args, "--principal")?;
    if only.is_empty() {
        for (pattern, entries) in &found {
            print_resource("Current ACLs for resource", pattern, entries);
        }
        return Ok(());
    }
    for principal in only {
        println!("ACLs for principal `{principal}`");
        for (pattern, entries) in &found {
            let theirs: BTreeSet<AccessControlEntry> = (entries.iter())
                .filter(|e| e.principal == principal)
                .cloned()
                .collect();
            if !theirs.is_empty() {
                print_resource("Current ACLs for resource", pattern, &theirs);
            }
        }
    }
    Ok(())
}
