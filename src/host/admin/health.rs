//! Liveness and readiness, decided from a [`Snapshot`] (pure, so unit-tested).

use super::collect::Snapshot;

/// Why a node is not ready (empty: ready), each a sentence an operator can act on.
pub fn not_ready(snapshot: &Snapshot, serving: bool, broker: bool) -> Vec<String> {
    let mut reasons = Vec::new();
    if !serving {
        reasons.push("not serving yet: the node is starting or stopping".to_string());
    }
    match &snapshot.quorum {
        None => reasons.push("the metadata quorum's voter does not answer".to_string()),
        Some(quorum) if quorum.cluster_id.is_none() => {
            reasons.push("the controller quorum has not named the cluster yet".to_string())
        }
        Some(quorum) if quorum.applied_index < quorum.commit_index => reasons.push(format!(
            "metadata not caught up: applied {} of {} committed entries",
            quorum.applied_index, quorum.commit_index
        )),
        Some(_) => {}
    }
    if !broker {
        return reasons;
    }
    match snapshot.lifecycle {
        Some(status) if status.broker_epoch.is_none() => {
            reasons.push("not registered with the controller quorum".to_string())
        }
        Some(status) if status.fenced => {
            reasons.push("fenced by the controller quorum".to_string())
        }
        Some(_) => {}
        None => reasons.push("the broker lifecycle does not answer".to_string()),
    }
    // Every partition the metadata gives this node to lead must be open here, as its leader.
    let mut not_led = Vec::new();
    for (topic, meta) in &snapshot.topics {
        for (index, partition) in meta.assignment.iter().enumerate() {
            if partition.leader != Some(snapshot.me) {
                continue;
            }
            let open = (snapshot.logs.iter()).any(|log| {
                log.leader && log.tp.topic == *topic && log.tp.partition == index as i32
            });
            if !open {
                not_led.push(format!("{topic}-{index}"));
            }
        }
    }
    if !not_led.is_empty() {
        let shown: Vec<&str> = not_led.iter().take(10).map(String::as_str).collect();
        reasons.push(format!(
            "{} partition(s) this broker should lead are not open as leader here: {}{}",
            not_led.len(),
            shown.join(", "),
            if not_led.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        ));
    }
    reasons
}
