//! What the transaction coordinator reads of the broker config, as plain values (built by
//! `ServerConfig::txn_settings`; the role never sees the config itself).

/// The coordinator's settings, under Kafka's names; [`Default`] is Kafka's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnSettings {
    /// `transaction.max.timeout.ms`: an InitProducerId asking for a longer transaction timeout
    /// gets INVALID_TRANSACTION_TIMEOUT.
    pub max_timeout_ms: i32,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often open
    /// transactions past their timeout are looked for (and aborted).
    pub abort_scan_interval_ms: u64,
    /// `transactional.id.expiration.ms`: how long an id with no open transaction is kept
    /// unused before it is forgotten.
    pub id_expiration_ms: i64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`: how often expired ids are
    /// looked for.
    pub id_expiration_scan_interval_ms: u64,
    /// `request.timeout.ms` of Kafka's marker channel: how long one round of markers may wait
    /// for its leaders' acknowledgements before it is sent again.
    pub marker_timeout_ms: i32,
}

impl Default for TxnSettings {
    fn default() -> Self {
        Self {
            max_timeout_ms: 900_000,
            abort_scan_interval_ms: 10_000,
            id_expiration_ms: 604_800_000,
            id_expiration_scan_interval_ms: 3_600_000,
            marker_timeout_ms: 30_000,
        }
    }
}
