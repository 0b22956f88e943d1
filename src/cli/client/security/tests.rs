use super::*;

fn resolve(pairs: &[(&str, &str)]) -> Result<ClientSecurity, String> {
    let settings: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ClientSecurity::from_settings(&settings)
}

const SCRAM_JAAS: &str = "org.apache.kafka.common.security.scram.ScramLoginModule required \
                          username=\"alice\" password=\"alice-secret\";";

#[test]
fn plaintext_is_the_default_and_ignores_the_other_keys() {
    let security = resolve(&[]).unwrap();
    assert_eq!(security.protocol, SecurityProtocol::Plaintext);
    assert!(security.tls.is_none() && security.sasl.is_none());
    // As Kafka's clients: ssl.* and sasl.* keys mean nothing without a protocol that uses them.
    let security =
        resolve(&[("ssl.truststore.type", "JKS"), ("sasl.mechanism", "GSSAPI")]).unwrap();
    assert!(security.tls.is_none() && security.sasl.is_none());
}

#[test]
fn the_protocol_is_one_of_kafkas_four_in_any_case() {
    let security = resolve(&[
        ("security.protocol", " sasl_plaintext "),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.jaas.config", SCRAM_JAAS),
    ])
    .unwrap();
    assert_eq!(security.protocol, SecurityProtocol::SaslPlaintext);
    let login = security.sasl.unwrap();
    assert_eq!(
        login.mechanism,
        SaslMechanism::Scram(crate::security::ScramMechanism::Sha512)
    );
    assert_eq!(
        (login.username.as_str(), login.password.as_str()),
        ("alice", "alice-secret")
    );
    let error = resolve(&[("security.protocol", "TLS")]).unwrap_err();
    assert!(error.starts_with("security.protocol: 'TLS'"), "{error}");
}

#[test]
fn sasl_without_a_supported_mechanism_is_refused_by_name() {
    let base = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.jaas.config", SCRAM_JAAS),
    ];
    let error = resolve(&base).unwrap_err();
    assert!(
        error.starts_with("sasl.mechanism:") && error.contains("GSSAPI"),
        "{error}"
    );
    for bad in ["GSSAPI", "OAUTHBEARER", "scram-sha-512"] {
        let mut pairs = base.to_vec();
        pairs.push(("sasl.mechanism", bad));
        let error = resolve(&pairs).unwrap_err();
        assert!(
            error.starts_with("sasl.mechanism:") && error.contains(bad),
            "{error}"
        );
    }
}

#[test]
fn the_jaas_config_must_name_a_user_and_password_and_is_never_quoted() {
    let with_jaas = |jaas: &str| {
        resolve(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", jaas),
        ])
    };
    let error = resolve(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
    ])
    .unwrap_err();
    assert!(
        error.starts_with("sasl.jaas.config:") && error.contains("PlainLoginModule"),
        "{error}"
    );
    for (jaas, says) in [
        (
            "org.apache.kafka.common.security.plain.PlainLoginModule required password=\"hunter2\";",
            "no username option",
        ),
        (
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\";",
            "no password option",
        ),
        (
            "com.sun.security.auth.module.Krb5LoginModule required password=\"hunter2\";",
            "Krb5LoginModule",
        ),
        ("PlainLoginModule required username=\"a\" password=\"hunter2", "sasl.jaas.config"),
    ] {
        let error = with_jaas(jaas).unwrap_err();
        assert!(
            error.starts_with("sasl.jaas.config") && error.contains(says),
            "{jaas}: {error}"
        );
        assert!(!error.contains("hunter2"), "a password is quoted: {error}");
    }
    // Either module serves either mechanism, as in Kafka's clients.
    let login = with_jaas(SCRAM_JAAS).unwrap().sasl.unwrap();
    assert_eq!(login.mechanism, SaslMechanism::Plain);
    let shown = format!("{login:?}");
    assert!(
        shown.contains("alice") && !shown.contains("alice-secret"),
        "{shown}"
    );
}

#[test]
fn tls_stores_are_pem_only_and_their_problems_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("truststore.jks");
    std::fs::write(&not_pem, [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]).unwrap();
    let not_pem = not_pem.to_str().unwrap();
    let ssl = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("security.protocol", "SSL")];
        pairs.extend_from_slice(extra);
        resolve(&pairs).unwrap_err()
    };
    let cases: Vec<(Vec<(&str, &str)>, &str, &str)> = vec![
        (
            vec![("ssl.truststore.type", "JKS")],
            "ssl.truststore.type:",
            "PEM",
        ),
        (
            vec![("ssl.keystore.type", "PKCS12")],
            "ssl.keystore.type:",
            "PEM",
        ),
        (
            vec![("ssl.truststore.location", not_pem)],
            "ssl.truststore.location:",
            "read PEM only",
        ),
        (
            vec![("ssl.truststore.certificates", "MIIB...")],
            "ssl.truststore.certificates:",
            "no PEM CERTIFICATE",
        ),
        (
            vec![("ssl.truststore.location", "/nonexistent/ca.pem")],
            "ssl.truststore.location:",
            "cannot read /nonexistent/ca.pem",
        ),
        (
            vec![
                ("ssl.truststore.location", "/x"),
                ("ssl.truststore.certificates", "y"),
            ],
            "ssl.truststore.location:",
            "not both",
        ),
        (
            vec![("ssl.key.password", "hunter2")],
            "ssl.key.password:",
            "not supported",
        ),
        (
            vec![("ssl.keystore.key", "-----BEGIN PRIVATE KEY-----")],
            "ssl.keystore.certificate.chain:",
            "go together",
        ),
        (
            vec![("ssl.endpoint.identification.algorithm", "dns")],
            "ssl.endpoint.identification.algorithm:",
            "'dns'",
        ),
        (
            vec![("ssl.enabled.protocols", "TLSv1.1")],
            "ssl.enabled.protocols:",
            "TLSv1.1",
        ),
    ];
    for (pairs, key, says) in cases {
        let error = ssl(&pairs);
        assert!(
            error.starts_with(key) && error.contains(says),
            "{pairs:?}: {error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
    }
}

#[test]
fn an_encrypted_or_missing_client_key_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let keystore = dir.path().join("client.pem");
    std::fs::write(
        &keystore,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let keystore = keystore.to_str().unwrap();
    let get = |key: &str| (key == "ssl.keystore.location").then_some(keystore);
    let error = super::keystore(&get).unwrap_err();
    assert!(
        error.starts_with("ssl.keystore.location:") && error.contains("encrypted"),
        "{error}"
    );
    let chain_only = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let get = |key: &str| match key {
        "ssl.keystore.certificate.chain" => Some(chain_only),
        "ssl.keystore.key" => Some(chain_only),
        _ => None,
    };
    let error = super::keystore(&get).unwrap_err();
    assert!(error.contains("no PEM PRIVATE KEY"), "{error}");
}

#[test]
fn every_key_is_a_security_key() {
    assert!(KEYS.iter().all(|k| is_security_key(k)));
    assert!(!is_security_key("acks") && !is_security_key("ssl.cipher.suites"));
}
