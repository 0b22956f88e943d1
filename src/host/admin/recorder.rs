//! The process's Prometheus exporter: installed once, as the `metrics` facade's global
//! recorder, the first time a server starts its admin endpoint.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::metrics::HISTOGRAMS;

/// The global exporter's handle (installing it on first use). `None` when another recorder was
/// installed first (an embedding program's): the endpoint then serves only scrape-time gauges.
pub fn global() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match with_buckets(PrometheusBuilder::new()).install_recorder() {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(%error, "metrics: another recorder is installed; /metrics serves the broker's state only");
                None
            }
        })
        .as_ref()
}

/// The builder with every histogram's buckets ([`HISTOGRAMS`]): rendered as Prometheus
/// histograms (quantiles by `histogram_quantile`), not summaries.
pub fn with_buckets(mut builder: PrometheusBuilder) -> PrometheusBuilder {
    for (name, buckets) in HISTOGRAMS {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(name.to_string()), buckets)
            .expect("the bucket lists are not empty");
    }
    builder
}
