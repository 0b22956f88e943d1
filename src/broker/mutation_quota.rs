//! The controller mutation quota (`controller_mutation_rate`, Kafka's
//! `ControllerMutationQuotaManager`, KIP-599): how many partitions a client may create or
//! delete per second, through CreateTopics, CreatePartitions and DeleteTopics.
//!
//! Kafka's rules: a request's topics are taken in order; while the client's quota is not
//! exceeded a topic passes and its partitions are counted, even when that takes the quota into
//! debt (so no topic is refused for being larger than the burst); once it is exceeded, the
//! remaining topics get THROTTLING_QUOTA_EXCEEDED — from the versions whose clients know that
//! error ("strict": CreateTopics v6, CreatePartitions v3, DeleteTopics v5); older versions pass
//! every topic and are only throttled ("permissive"). The answer's `throttle_time_ms` is the
//! time until the quota is no longer exceeded, and the connection is muted that long. A
//! `validate_only` request is neither counted nor refused.
//!
//! Differs from Kafka: counted at the broker asked, before the controller decides (Kafka counts
//! in the controller as it applies each topic), so a topic the controller refuses (it exists,
//! a bad config) still counts; and the bucket's burst is one window of the rate where Kafka's
//! is `quota.window.num` windows.

use super::quota::QuotaKind;
use super::service::KafkaRequest;
use super::throttle::Throttle;
use super::BrokerService;
use crate::types::{ErrorCode, Refusal};

/// Kafka's words for a topic refused by a strict quota.
pub(super) const THROTTLED: &str = "The throttling quota has been exceeded.";

/// A request's mutation quota.
pub(super) struct MutationQuota {
    throttle: Throttle,
    strict: bool,
}

impl<C> BrokerService<C> {
    /// The mutation quota of `request` when one applies and it changes anything
    /// (`validate_only` requests do not); strict from `strict_since` (the first version of the
    /// API whose clients know THROTTLING_QUOTA_EXCEEDED).
    pub(super) fn mutation_quota(
        &self,
        request: &KafkaRequest,
        validate_only: bool,
        strict_since: i16,
    ) -> Option<MutationQuota> {
        if validate_only {
            return None;
        }
        Some(MutationQuota {
            throttle: self.throttle(request, QuotaKind::Mutation)?,
            strict: request.prefix.api_version >= strict_since,
        })
    }
}

impl MutationQuota {
    /// Whether a topic creating or deleting `partitions` partitions goes on (counted if so):
    /// a strict quota refuses it once exceeded.
    fn admit(&self, partitions: u64) -> Result<(), Refusal> {
        if self.strict && self.throttle.budget() == 0 {
            return Err(Refusal::new(
                ErrorCode::THROTTLING_QUOTA_EXCEEDED,
                THROTTLED,
            ));
        }
        self.throttle
            .record(partitions.saturating_mul(QuotaKind::MUTATION_UNITS_PER_PARTITION));
        Ok(())
    }

    /// Kafka's per-topic check over a request's `topics`, in order: those that go on, and
    /// those refused with why. `partitions` says how many partitions a topic creates or
    /// deletes.
    pub(super) fn admit_each<T>(
        &self,
        topics: Vec<T>,
        partitions: impl Fn(&T) -> u64,
    ) -> (Vec<T>, Vec<(T, Refusal)>) {
        let mut admitted = Vec::new();
        let mut refused = Vec::new();
        for topic in topics {
            match self.admit(partitions(&topic)) {
                Ok(()) => admitted.push(topic),
                Err(refusal) => refused.push((topic, refusal)),
            }
        }
        (admitted, refused)
    }

    /// The answer's throttle: until the quota is no longer exceeded, the connection muted
    /// that long.
    pub(super) fn throttle_ms(&self) -> i32 {
        self.throttle.wait()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::{
        ApiKey, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
        DeleteTopicsResponse, TopicName,
    };
    use kafka_protocol::protocol::StrBytes;

    use super::*;
    use crate::actor::fake_client::FakeClient;
    use crate::broker::service::ManualClock;
    use crate::broker::tests::{answer, body_of, quota_gateway, request_from};
    use crate::messages::quotas::CONTROLLER_MUTATION_RATE;
    use crate::messages::{NodeMsg, TopicDeletion, TopicMeta, TopicsReply, TopicsRequest, TOPICS};

    fn name(topic: &str) -> TopicName {
        TopicName(StrBytes::from_string(topic.to_string()))
    }

    fn meta(partitions: i32) -> TopicMeta {
        TopicMeta {
            id: [7; 16],
            partitions,
            replication_factor: 1,
            configs: BTreeMap::new(),
            assignment: Vec::new(),
        }
    }

    fn create(
        service: &BrokerService<FakeClient<NodeMsg>>,
        version: i16,
        topics: &[(&str, i32)],
    ) -> CreateTopicsResponse {
        let body = CreateTopicsRequest::default().with_topics(
            (topics.iter())
                .map(|(topic, partitions)| {
                    CreatableTopic::default()
                        .with_name(name(topic))
                        .with_num_partitions(*partitions)
                        .with_replication_factor(1)
                })
                .collect(),
        );
        let request = request_from(ApiKey::CreateTopics, version, &body, Default::default());
        let answered = answer(service, request).unwrap().expect("answered");
        body_of(ApiKey::CreateTopics, version, &answered)
    }

    /// The topics the gateway asked the topics actor to create.
    fn asked_to_create(client: &FakeClient<NodeMsg>) -> Vec<String> {
        let asked = client.take_asked();
        match asked.as_slice() {
            [(TOPICS, NodeMsg::Topics(TopicsRequest::CreateTopics(create)))] => {
                create.topics.iter().map(|t| t.name.clone()).collect()
            }
            [] => Vec::new(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_strict_create_passes_topics_until_the_quota_is_exceeded_then_refuses_the_rest() {
        // 2 partitions a second, one second of burst; a clock that stands still.
        let clock = Arc::new(ManualClock::at_ms(1_000));
        let (client, service) = quota_gateway("test", CONTROLLER_MUTATION_RATE, 2.0, clock.clone());
        client.reply(
            TOPICS,
            NodeMsg::TopicsReply(TopicsReply::Created(vec![Ok(meta(5))])),
        );
        // The first topic passes though it is larger than the burst (2 - 5: 3 in debt); the
        // second is refused.
        let back = create(&service, 7, &[("a", 5), ("b", 1)]);
        assert_eq!(asked_to_create(&client), ["a"]);
        let codes: BTreeMap<&str, (i16, Option<&str>)> = (back.topics.iter())
            .map(|t| {
                (
                    t.name.0.as_str(),
                    (t.error_code, t.error_message.as_deref()),
                )
            })
            .collect();
        assert_eq!(codes["a"].0, 0);
        assert_eq!(codes["b"], (89, Some(THROTTLED)));
        assert_eq!(
            back.throttle_time_ms, 1_500,
            "3 partitions of debt at 2 a second"
        );
        // Still in debt: refused whole, nothing asked.
        let back = create(&service, 6, &[("c", 1)]);
        assert_eq!(
            (back.topics[0].error_code, back.throttle_time_ms),
            (89, 1_500)
        );
        assert!(asked_to_create(&client).is_empty());
        // Paid off: passes again.
        clock.advance_ms(1_500);
        client.reply(
            TOPICS,
            NodeMsg::TopicsReply(TopicsReply::Created(vec![Ok(meta(1))])),
        );
        let back = create(&service, 6, &[("c", 1)]);
        assert_eq!(asked_to_create(&client), ["c"]);
        assert_eq!((back.topics[0].error_code, back.throttle_time_ms), (0, 500));
    }

    #[test]
    fn an_older_version_passes_every_topic_and_is_only_throttled() {
        let clock = Arc::new(ManualClock::at_ms(1_000));
        let (client, service) = quota_gateway("test", CONTROLLER_MUTATION_RATE, 2.0, clock);
        let created = vec![Ok(meta(5)), Ok(meta(1))];
        client.reply(TOPICS, NodeMsg::TopicsReply(TopicsReply::Created(created)));
        let back = create(&service, 5, &[("a", 5), ("b", 1)]);
        assert_eq!(asked_to_create(&client), ["a", "b"]);
        assert!((back.topics.iter()).all(|t| ErrorCode::from_wire(t.error_code) == ErrorCode::NONE));
        assert_eq!(
            back.throttle_time_ms, 2_000,
            "4 partitions of debt at 2 a second"
        );
    }

    #[test]
    fn a_hostile_partition_count_is_counted_as_nothing_not_overflowed() {
        use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
        use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

        use crate::types::Refusal;

        let clock = Arc::new(ManualClock::at_ms(1_000));
        let (client, service) = quota_gateway("test", CONTROLLER_MUTATION_RATE, 1.0, clock);
        let listed = BTreeMap::from([("t".to_string(), meta(5))]);
        client.reply(TOPICS, NodeMsg::TopicsReply(TopicsReply::List(listed)));
        let refused = Refusal::new(ErrorCode::INVALID_PARTITIONS, "no");
        let created = TopicsReply::PartitionsCreated(vec![Err(refused)]);
        client.reply(TOPICS, NodeMsg::TopicsReply(created));
        let body =
            CreatePartitionsRequest::default().with_topics(vec![CreatePartitionsTopic::default()
                .with_name(name("t"))
                .with_count(i32::MIN)]);
        let request = request_from(ApiKey::CreatePartitions, 3, &body, Default::default());
        let answered = answer(&service, request).unwrap().expect("answered");
        let back: CreatePartitionsResponse = body_of(ApiKey::CreatePartitions, 3, &answered);
        let code = ErrorCode::from_wire(back.results[0].error_code);
        assert_eq!(
            (code, back.throttle_time_ms),
            (ErrorCode::INVALID_PARTITIONS, 0)
        );
    }

    #[test]
    fn a_deletion_counts_the_topic_s_partitions() {
        let clock = Arc::new(ManualClock::at_ms(1_000));
        let (client, service) = quota_gateway("test", CONTROLLER_MUTATION_RATE, 1.0, clock);
        let listed = BTreeMap::from([("big".to_string(), meta(3)), ("small".to_string(), meta(1))]);
        client.reply(TOPICS, NodeMsg::TopicsReply(TopicsReply::List(listed)));
        let deleted = TopicDeletion {
            name: Some("big".to_string()),
            outcome: Ok(meta(3)),
        };
        client.reply(
            TOPICS,
            NodeMsg::TopicsReply(TopicsReply::Deleted(vec![deleted])),
        );
        let body =
            DeleteTopicsRequest::default().with_topic_names(vec![name("big"), name("small")]);
        let request = request_from(ApiKey::DeleteTopics, 5, &body, Default::default());
        let answered = answer(&service, request).unwrap().expect("answered");
        let back: DeleteTopicsResponse = body_of(ApiKey::DeleteTopics, 5, &answered);
        let codes: BTreeMap<&str, i16> = (back.responses.iter())
            .map(|r| (r.name.as_ref().unwrap().0.as_str(), r.error_code))
            .collect();
        assert_eq!(codes, BTreeMap::from([("big", 0), ("small", 89)]));
        assert_eq!(
            back.throttle_time_ms, 2_000,
            "3 partitions, 1 of burst, 1 a second"
        );
    }
}
