//! DescribeUserScramCredentials (50) and AlterUserScramCredentials (51), KIP-554: the users'
//! SCRAM credentials, which kafka-configs `--entity-type users`, `rill configs` and the admin
//! clients manage.
//!
//! Any broker describes from the metadata it applied (the topics actor's view), as Kafka's
//! brokers answer from their metadata cache (`ScramImage.describe`). An alteration goes to
//! the controller quorum's leader through this node's voter and is answered once committed
//! and applied here, so a describe (or a login) on this broker right after it sees it.

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::acls::CLUSTER_NOT_AUTHORIZED;
use super::error::quorum_refusal;
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::quorum::QuorumReply;
use crate::messages::scram::{
    AlterScramCredentialsArgs, DescribeScramRequest, ScramDeletion, ScramDescriptions,
    ScramUpsertion,
};
use crate::messages::NodeMsg;
use crate::security::acl::AclOperation;
use crate::types::{ErrorCode, Refusal};

/// Kafka's words (`ScramImage`), followed by the user's name.
const DESCRIBE_DUPLICATE_USER: &str =
    "Cannot describe SCRAM credentials for the same user twice in a single request: ";
const DESCRIBE_USER_THAT_DOES_NOT_EXIST: &str =
    "Attempt to describe a user credential that does not exist: ";

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn describe_user_scram_credentials(
        &self,
        request: DescribeUserScramCredentialsRequest,
        frame: &KafkaRequest,
    ) -> Result<DescribeUserScramCredentialsResponse, GatewayError> {
        // Kafka: DESCRIBE on the CLUSTER, else the whole request is refused.
        if !(self.access(frame, "DescribeUserScramCredentials"))
            .allows_cluster(AclOperation::Describe)
        {
            return Ok(DescribeUserScramCredentialsResponse::default()
                .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.wire())
                .with_error_message(Some(StrBytes::from_static_str(CLUSTER_NOT_AUTHORIZED))));
        }
        // Null or empty: every user (Kafka's rule).
        let named = (request.users)
            .filter(|users| !users.is_empty())
            .map(|users| distinct(users.into_iter().map(|u| u.name.to_string())));
        let users = named.as_ref().map(|named| {
            (named.iter())
                .filter(|(_, twice)| !twice)
                .map(|(user, _)| user.clone())
                .collect()
        });
        let described = ask(&self.node, DescribeScramRequest { users }).await?;
        let results = described_results(named, described);
        Ok(DescribeUserScramCredentialsResponse::default().with_results(results))
    }

    pub(super) async fn alter_user_scram_credentials(
        &self,
        request: AlterUserScramCredentialsRequest,
        frame: &KafkaRequest,
    ) -> Result<AlterUserScramCredentialsResponse, GatewayError> {
        // Kafka: ALTER on the CLUSTER, else every user named is refused.
        let allowed =
            (self.access(frame, "AlterUserScramCredentials")).allows_cluster(AclOperation::Alter);
        let deletions: Vec<ScramDeletion> = (request.deletions.into_iter())
            .map(|d| ScramDeletion {
                name: d.name.to_string(),
                mechanism: d.mechanism,
            })
            .collect();
        let upsertions: Vec<ScramUpsertion> = (request.upsertions.into_iter())
            .map(|u| ScramUpsertion {
                name: u.name.to_string(),
                mechanism: u.mechanism,
                iterations: u.iterations,
                salt: u.salt.to_vec(),
                salted_password: u.salted_password.to_vec(),
            })
            .collect();
        if deletions.is_empty() && upsertions.is_empty() {
            return Ok(AlterUserScramCredentialsResponse::default());
        }
        let users: Vec<String> = distinct(
            (deletions.iter().map(|d| d.name.clone()))
                .chain(upsertions.iter().map(|u| u.name.clone())),
        )
        .into_iter()
        .map(|(user, _)| user)
        .collect();
        if !allowed {
            let refusal = Refusal::new(
                ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
                CLUSTER_NOT_AUTHORIZED,
            );
            let results = (users.into_iter())
                .map(|user| (user, Err(refusal.clone())))
                .collect();
            return Ok(altered(results));
        }
        let args = AlterScramCredentialsArgs {
            deletions,
            upsertions,
        };
        let refusal = match ask(&self.node, args).await {
            Ok(QuorumReply::ScramCredentialsAltered { results, .. }) => {
                return Ok(altered(results));
            }
            other => quorum_refusal(other, "alter the credentials"),
        };
        let results = (users.into_iter())
            .map(|user| (user, Err(refusal.clone())))
            .collect();
        Ok(altered(results))
    }
}

/// Each name once, in the order it first appears, with whether it appears more than once.
fn distinct(names: impl Iterator<Item = String>) -> Vec<(String, bool)> {
    let mut seen: Vec<(String, bool)> = Vec::new();
    let mut index: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for name in names {
        match index.get(&name) {
            Some(&at) => seen[at].1 = true,
            None => {
                index.insert(name.clone(), seen.len());
                seen.push((name, false));
            }
        }
    }
    seen
}

/// Kafka's describe results: for every user (`named`: `None`), or each user named once, in
/// the order named: its credentials, RESOURCE_NOT_FOUND without any, DUPLICATE_RESOURCE if
/// named twice.
fn described_results(
    named: Option<Vec<(String, bool)>>,
    mut described: ScramDescriptions,
) -> Vec<DescribeUserScramCredentialsResult> {
    let found = |user: String, infos: Vec<(crate::messages::scram::ScramMechanism, u32)>| {
        let infos = (infos.into_iter())
            .map(|(mechanism, iterations)| {
                CredentialInfo::default()
                    .with_mechanism(mechanism.kafka_type())
                    .with_iterations(iterations as i32)
            })
            .collect();
        DescribeUserScramCredentialsResult::default()
            .with_user(StrBytes::from_string(user))
            .with_error_message(None)
            .with_credential_infos(infos)
    };
    let refused = |user: String, code: ErrorCode, words: &str| {
        let message = format!("{words}{user}");
        DescribeUserScramCredentialsResult::default()
            .with_user(StrBytes::from_string(user))
            .with_error_code(code.wire())
            .with_error_message(Some(StrBytes::from_string(message)))
    };
    let Some(named) = named else {
        return (described.into_iter())
            .map(|(user, infos)| found(user, infos))
            .collect();
    };
    (named.into_iter())
        .map(|(user, twice)| {
            if twice {
                return refused(user, ErrorCode::DUPLICATE_RESOURCE, DESCRIBE_DUPLICATE_USER);
            }
            match described.remove(&user) {
                Some(infos) => found(user, infos),
                None => refused(
                    user,
                    ErrorCode::RESOURCE_NOT_FOUND,
                    DESCRIBE_USER_THAT_DOES_NOT_EXIST,
                ),
            }
        })
        .collect()
}

/// The alter response: one result per user.
fn altered(results: Vec<(String, Result<(), Refusal>)>) -> AlterUserScramCredentialsResponse {
    let results = (results.into_iter())
        .map(|(user, result)| {
            let (code, message) = match result {
                Ok(()) => (ErrorCode::NONE, None),
                Err(refusal) => (refusal.code, Some(StrBytes::from_string(refusal.message))),
            };
            AlterUserScramCredentialsResult::default()
                .with_user(StrBytes::from_string(user))
                .with_error_code(code.wire())
                .with_error_message(message)
        })
        .collect();
    AlterUserScramCredentialsResponse::default().with_results(results)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::messages::scram::ScramMechanism;

    #[test]
    fn distinct_keeps_first_appearance_and_flags_repeats() {
        let names = ["b", "a", "b", "c", "b"].map(String::from);
        assert_eq!(
            distinct(names.into_iter()),
            vec![
                ("b".to_string(), true),
                ("a".to_string(), false),
                ("c".to_string(), false)
            ]
        );
    }

    #[test]
    fn a_describe_answers_each_named_user_once_with_kafkas_codes_and_words() {
        let described = BTreeMap::from([(
            "alice".to_string(),
            vec![
                (ScramMechanism::Sha256, 8192),
                (ScramMechanism::Sha512, 4096),
            ],
        )]);
        let named = distinct(
            ["alice", "bob", "carol", "carol"]
                .map(String::from)
                .into_iter(),
        );
        let results = described_results(Some(named), described.clone());
        let summary: Vec<(&str, i16, Option<&str>, Vec<(i8, i32)>)> = (results.iter())
            .map(|r| {
                let infos = r.credential_infos.iter();
                (
                    r.user.as_str(),
                    r.error_code,
                    r.error_message.as_deref(),
                    infos.map(|i| (i.mechanism, i.iterations)).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("alice", 0, None, vec![(1, 8192), (2, 4096)]),
                (
                    "bob",
                    91,
                    Some("Attempt to describe a user credential that does not exist: bob"),
                    vec![]
                ),
                (
                    "carol",
                    92,
                    Some(
                        "Cannot describe SCRAM credentials for the same user twice in a single \
                         request: carol"
                    ),
                    vec![]
                ),
            ]
        );
        // No names: every user with a credential.
        let all = described_results(None, described);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].user.as_str(), "alice");
    }
}
