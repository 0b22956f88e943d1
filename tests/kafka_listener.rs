//! The Kafka listener of a real `rill server` process over real TCP: ApiVersions at every served
//! version and the UNSUPPORTED_VERSION fallback, pipelined requests answered in order, and bad
//! frames (oversized, negative size, unknown API) closing only their own connection.
#![cfg(not(madsim))]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use common::RillServer;

fn api_versions_frame(version: i16, correlation_id: i32) -> Vec<u8> {
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::ApiVersions as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("rill-test")));
    let mut body = BytesMut::new();
    header
        .encode(
            &mut body,
            ApiKey::ApiVersions.request_header_version(version),
        )
        .unwrap();
    if version <= 3 {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("rill-test"))
            .with_client_software_version(StrBytes::from_static_str("1"));
        request.encode(&mut body, version).unwrap();
    } else {
        body.put_slice(&[0, 0, 0]); // a body from the future: must not need decoding
    }
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Reads one response frame; returns (correlation id, rest of the frame).
fn read_response(stream: &mut TcpStream) -> std::io::Result<(i32, bytes::Bytes)> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut frame)?;
    let mut frame = bytes::Bytes::from(frame);
    let correlation_id = frame.get_i32(); // response header v0, always, for ApiVersions
    Ok((correlation_id, frame))
}

fn api_versions(stream: &mut TcpStream, version: i16, correlation_id: i32) -> ApiVersionsResponse {
    stream
        .write_all(&api_versions_frame(version, correlation_id))
        .unwrap();
    let (got_id, mut body) = read_response(stream).unwrap();
    assert_eq!(got_id, correlation_id);
    let decode_version = if version > 3 { 0 } else { version };
    ApiVersionsResponse::decode(&mut body, decode_version).unwrap()
}

fn assert_closed(stream: &mut TcpStream) {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) | Err(_) => {}
        Ok(_) => panic!("connection should have been closed"),
    }
}

#[test]
fn api_versions_at_every_served_version_and_the_v0_fallback() {
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    for version in 0..=3 {
        let response = api_versions(&mut stream, version, 100 + version as i32);
        assert_eq!(response.error_code, 0, "v{version}");
        let own = response
            .api_keys
            .iter()
            .find(|k| k.api_key == ApiKey::ApiVersions as i16)
            .unwrap();
        assert_eq!((own.min_version, own.max_version), (0, 3));
    }
    let response = api_versions(&mut stream, 4, 7);
    assert_eq!(response.error_code, 35, "UNSUPPORTED_VERSION");
    assert!(
        !response.api_keys.is_empty(),
        "the fallback carries the full key list"
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    let mut all = Vec::new();
    for id in 0..50 {
        all.extend(api_versions_frame((id % 4) as i16, id));
    }
    stream.write_all(&all).unwrap();
    for id in 0..50 {
        let (got, _) = read_response(&mut stream).unwrap();
        assert_eq!(got, id);
    }
}

#[test]
fn bad_frames_close_only_their_connection() {
    let server = RillServer::start(&["--override", "socket.request.max.bytes=2000000"]);
    let mut healthy = server.connect();
    assert_eq!(api_versions(&mut healthy, 3, 1).error_code, 0);

    let mut oversized = server.connect();
    oversized
        .write_all(&(1_000_000_000i32).to_be_bytes())
        .unwrap();
    assert_closed(&mut oversized);

    let mut negative = server.connect();
    negative.write_all(&(-1i32).to_be_bytes()).unwrap();
    assert_closed(&mut negative);

    let mut short = server.connect();
    short.write_all(&[0, 0, 0, 3, 0, 18, 0]).unwrap();
    assert_closed(&mut short);

    let mut unknown = server.connect();
    unknown
        .write_all(&[0, 0, 0, 8, 0x7f, 0x00, 0, 0, 0, 0, 0, 9])
        .unwrap();
    assert_closed(&mut unknown);

    assert_eq!(
        api_versions(&mut healthy, 3, 2).error_code,
        0,
        "the healthy client is unaffected"
    );
}

#[test]
fn an_invalid_config_stops_start_up_naming_the_key() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["server", "--override", "num.partitions=0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("'num.partitions': 0 is out of range"),
        "{stderr}"
    );
}
