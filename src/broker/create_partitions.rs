//! CreatePartitions: the request goes to the topics actor whole, which grows each topic (the
//! registry first, then the new partition logs) and answers one outcome per topic.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{self as kafka, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::{CreatePartitionsRequest, Growth, NodeMsg};

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn create_partitions(
        &self,
        request: kafka::CreatePartitionsRequest,
    ) -> Result<CreatePartitionsResponse, GatewayError> {
        let grow = CreatePartitionsRequest {
            topics: request
                .topics
                .iter()
                .map(|topic| Growth {
                    name: topic.name.0.to_string(),
                    count: topic.count,
                    assignments: topic.assignments.as_ref().map(|a| {
                        a.iter()
                            .map(|r| r.broker_ids.iter().map(|b| b.0).collect())
                            .collect()
                    }),
                })
                .collect(),
            validate_only: request.validate_only,
        };
        let outcomes = ask(&self.node, grow).await?;
        let results = request
            .topics
            .into_iter()
            .zip(outcomes)
            .map(|(topic, outcome)| {
                let result = CreatePartitionsTopicResult::default().with_name(topic.name);
                match outcome {
                    Ok(()) => result,
                    Err(refusal) => result
                        .with_error_code(refusal.code.wire())
                        .with_error_message(Some(StrBytes::from_string(refusal.message))),
                }
            })
            .collect();
        Ok(CreatePartitionsResponse::default().with_results(results))
    }
}
