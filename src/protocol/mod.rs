//! The Kafka wire adapter: frames, request headers, the advertised API versions.
//!
//! Request and response bodies are (de)coded by the `kafka-protocol` crate; this module does the
//! parts around it that must be right before any body is touched: the size cap on a frame
//! (checked before allocating), the header prefix every request version shares (so that an
//! unknown API key or version can still be answered with the right correlation id), and the
//! ApiVersions exchange including its UNSUPPORTED_VERSION fallback.

pub mod api_versions;
pub mod frame;
pub mod layout;
pub mod layouts;
pub mod versions;
