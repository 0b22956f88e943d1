//! The workload's SCRAM user (`--sasl`): created early in the run, through PLAIN as the
//! administrator, with AlterUserScramCredentials as `kafka-configs --alter --entity-type users`
//! sends it (each mechanism's credential, salted by the client), at a broker drawn afresh per
//! attempt and retried until one acknowledges it. From then on `crate::sasl` draws that
//! mechanism's logins too.

use std::net::SocketAddr;

use bytes::Bytes;
use kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
};
use kafka_protocol::protocol::StrBytes;
use rand::Rng;
use rill::security::scram::SaltedPassword;
use rill::security::ScramMechanism;
use rill::types::ErrorCode;

use super::{via_any_broker, Workload, CALL_TIMEOUT, RETRY_BACKOFF};
use crate::sasl::{self, Login, SCRAM_ITERATIONS, SCRAM_PASSWORD, USER};

/// Creates the workload's SCRAM user: one AlterUserScramCredentials per mechanism (a request
/// may alter a user once, Kafka's rule), each retried (NOT_CONTROLLER while the quorum has no
/// leader or a new one is still applying its log, lost connections, timeouts) until a broker
/// acknowledges it. Every attempt upserts the same credential (one salt per run). Every run
/// also tries a wrong password once per mechanism, whatever the draws of its connections: the
/// administrator's for PLAIN first, and PLAIN's password for each SCRAM once its credential is
/// acknowledged, at that broker (which knows the user then).
pub async fn create_scram_user(w: &Workload) {
    sasl::try_wrong(
        via_any_broker(w).broker,
        &Login::admin_wrong(),
        CALL_TIMEOUT,
    )
    .await;
    let mut salt = [0u8; 16];
    madsim::rand::thread_rng().fill(&mut salt[..]);
    for mechanism in ScramMechanism::ALL {
        let salted = mechanism.salted_password(SCRAM_PASSWORD.as_bytes(), &salt, SCRAM_ITERATIONS);
        let upsertion = ScramCredentialUpsertion::default()
            .with_name(StrBytes::from_static_str(USER))
            .with_mechanism(mechanism.kafka_type())
            .with_iterations(SCRAM_ITERATIONS as i32)
            .with_salt(Bytes::copy_from_slice(&salt))
            .with_salted_password(Bytes::from(salted.clone()));
        let request = AlterUserScramCredentialsRequest::default().with_upsertions(vec![upsertion]);
        loop {
            let addr = via_any_broker(w).broker;
            if alter(addr, &request).await {
                let salted = SaltedPassword {
                    salt: salt.to_vec(),
                    iterations: SCRAM_ITERATIONS,
                    salted: salted.clone(),
                };
                sasl::scram_user_created(addr, mechanism, salted);
                sasl::try_wrong(addr, &Login::scram_wrong(mechanism), CALL_TIMEOUT).await;
                break;
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }
}

/// One AlterUserScramCredentials at `addr`, logged in through PLAIN as the administrator:
/// whether the broker acknowledged it.
async fn alter(addr: SocketAddr, request: &AlterUserScramCredentialsRequest) -> bool {
    let Ok(mut conn) = sasl::connect_as(addr, &Login::admin(), CALL_TIMEOUT).await else {
        return false;
    };
    let answer = conn
        .call::<_, AlterUserScramCredentialsResponse>(
            ApiKey::AlterUserScramCredentials,
            0,
            request,
            CALL_TIMEOUT,
        )
        .await;
    tracing::debug!(%addr, ?answer, "AlterUserScramCredentials of the SCRAM user");
    answer.is_ok_and(|response| {
        !response.results.is_empty()
            && (response.results.iter())
                .all(|r| ErrorCode::from_wire(r.error_code) == ErrorCode::NONE)
    })
}
