//! Whole exchanges: Rill's client against Rill's server, and both against RFC 7677's example.

use base64::Engine;
use proptest::prelude::*;

use super::client::{parse_server_final, parse_server_first};
use super::server::parse_client_final;
use super::*;

const DECOY_KEY: &[u8] = b"the cluster's decoy key";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The users the server knows: one credential per user name.
fn credential_of(m: ScramMechanism, users: &[(&str, &str)], name: &str) -> Option<ScramCredential> {
    let (_, password) = users.iter().find(|(user, _)| *user == name)?;
    Some(ScramCredential::from_password(
        m,
        password.as_bytes(),
        b"a fixed salt",
        4096,
    ))
}

/// One login of `username`/`password` against `users`, with the client's and the server's
/// nonces; the server-first message and the outcome on both sides.
fn login(
    m: ScramMechanism,
    users: &[(&str, &str)],
    username: &str,
    password: &str,
    nonces: (&str, &str),
) -> (Vec<u8>, Result<ScramSuccess, ScramError>) {
    let (mut client, first) = ScramClient::new(m, username, password, nonces.0);
    let first = parse_client_first(&first).unwrap();
    let credential = credential_of(m, users, first.username());
    let (server, server_first) = ScramServer::start(m, first, credential, nonces.1, DECOY_KEY);
    let client_final = client.server_first(&server_first).unwrap();
    let outcome = server.finish(&client_final);
    if let Ok(success) = &outcome {
        client
            .server_final(&success.server_final)
            .expect("the client accepts the server's signature");
    }
    (server_first, outcome)
}

/// The client-final message a client holding `password` sends for a hand-made client-first
/// (`gs2_header` + `bare`): for the exchanges `ScramClient` never makes (authzid, `y`,
/// extensions).
fn prove(
    m: ScramMechanism,
    password: &str,
    gs2_header: &str,
    bare: &str,
    server_first: &[u8],
) -> Vec<u8> {
    let nonce = parse_server_first(server_first).unwrap().nonce;
    prove_for_nonce(m, password, gs2_header, bare, server_first, &nonce)
}

/// As [`prove`], but signing a client-final that carries `nonce`: a client that knows the
/// password can sign any final message, so only the server's own checks stop it.
fn prove_for_nonce(
    m: ScramMechanism,
    password: &str,
    gs2_header: &str,
    bare: &str,
    server_first: &[u8],
    nonce: &str,
) -> Vec<u8> {
    let parsed = parse_server_first(server_first).unwrap();
    let salted = m.salted_password(password.as_bytes(), &parsed.salt, parsed.iterations);
    let client_key = m.hmac(&salted, b"Client Key");
    let without_proof = format!("c={},r={nonce}", B64.encode(gs2_header));
    let auth_message = format!(
        "{bare},{},{without_proof}",
        std::str::from_utf8(server_first).unwrap()
    );
    let signature = m.hmac(&m.hash(&client_key), auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(k, s)| k ^ s)
        .collect();
    format!("{without_proof},p={}", B64.encode(proof)).into_bytes()
}

/// A hand-made login: the client-first `gs2_header` + `bare` of user "user", password
/// `password`, against a server where "user" has password "pencil".
fn hand_made_login(
    gs2_header: &str,
    bare: &str,
    password: &str,
) -> (Vec<u8>, Result<ScramSuccess, ScramError>) {
    let m = ScramMechanism::Sha256;
    let first = parse_client_first(format!("{gs2_header}{bare}").as_bytes()).unwrap();
    let credential = credential_of(m, &[("user", "pencil")], first.username());
    let (server, server_first) = ScramServer::start(m, first, credential, "SNONCE", DECOY_KEY);
    let client_final = prove(m, password, gs2_header, bare, &server_first);
    (server_first, server.finish(&client_final))
}

#[test]
fn rfc7677_example_exchange() {
    let m = ScramMechanism::Sha256;
    let (mut client, first) = ScramClient::new(m, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
    assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    let credential = ScramCredential::from_password(m, b"pencil", &salt, 4096);
    let (server, server_first) = ScramServer::start(
        m,
        parse_client_first(&first).unwrap(),
        Some(credential),
        "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        DECOY_KEY,
    );
    assert_eq!(
        std::str::from_utf8(&server_first).unwrap(),
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    );
    let client_final = client.server_first(&server_first).unwrap();
    assert_eq!(
        std::str::from_utf8(&client_final).unwrap(),
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
         p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    );
    let success = server.finish(&client_final).unwrap();
    assert_eq!(success.username, "user");
    assert_eq!(
        std::str::from_utf8(&success.server_final).unwrap(),
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    );
    assert_eq!(client.server_final(&success.server_final), Ok(()));
}

#[test]
fn both_mechanisms_round_trip() {
    for m in ScramMechanism::ALL {
        let users = [("alice", "alice-secret"), ("bob", "bob-secret")];
        let (_, outcome) = login(m, &users, "alice", "alice-secret", ("c1", "s1"));
        let success = outcome.unwrap();
        assert_eq!(success.username, "alice");
        let verifier = parse_server_final(&success.server_final).unwrap();
        let client::ServerFinal::Verifier(signature) = verifier else {
            panic!("{verifier:?}")
        };
        assert_eq!(signature.len(), m.hash_bytes());
    }
}

#[test]
fn a_credential_for_one_mechanism_does_not_log_in_with_the_other() {
    let (mut client, first) = ScramClient::new(ScramMechanism::Sha512, "u", "pw", "c");
    let credential = ScramCredential::from_password(ScramMechanism::Sha256, b"pw", b"s", 4096);
    let (server, server_first) = ScramServer::start(
        ScramMechanism::Sha512,
        parse_client_first(&first).unwrap(),
        Some(credential),
        "S",
        DECOY_KEY,
    );
    let client_final = client.server_first(&server_first).unwrap();
    assert_eq!(
        server.finish(&client_final),
        Err(ScramError::AuthenticationFailed)
    );
}

#[test]
fn a_wrong_password_fails() {
    let users = [("alice", "alice-secret")];
    let (_, outcome) = login(ScramMechanism::Sha256, &users, "alice", "wrong", ("c", "s"));
    assert_eq!(outcome, Err(ScramError::AuthenticationFailed));
    let (_, outcome) = login(ScramMechanism::Sha512, &users, "alice", "", ("c", "s"));
    assert_eq!(outcome, Err(ScramError::AuthenticationFailed));
}

#[test]
fn an_unknown_user_fails_exactly_as_a_wrong_password_does() {
    let m = ScramMechanism::Sha256;
    let users = [("alice", "alice-secret")];
    let (_, wrong_password) = login(m, &users, "alice", "guess", ("c", "s"));
    let (_, unknown) = login(m, &users, "mallory", "guess", ("c", "s"));
    assert_eq!(unknown, Err(ScramError::AuthenticationFailed));
    assert_eq!(unknown, wrong_password);
    assert_eq!(
        unknown.unwrap_err().client_message(m),
        wrong_password.unwrap_err().client_message(m)
    );
}

#[test]
fn an_unknown_users_server_first_looks_like_a_known_users_and_keeps_its_salt() {
    for m in ScramMechanism::ALL {
        let users = [("alice", "alice-secret")];
        let (known, _) = login(m, &users, "alice", "x", ("c1", "s1"));
        let (ghost1, _) = login(m, &users, "ghost", "x", ("c1", "s1"));
        let (ghost2, _) = login(m, &users, "ghost", "y", ("c2", "s2"));
        let (other, _) = login(m, &users, "phantom", "x", ("c1", "s1"));
        let [known, ghost1, ghost2, other] =
            [known, ghost1, ghost2, other].map(|first| parse_server_first(&first).unwrap());
        assert_eq!(ghost1.nonce, known.nonce, "same nonces, same answer");
        assert_eq!(ghost2.nonce, "c2s2");
        assert_eq!(ghost1.salt, ghost2.salt, "an unknown user's salt is stable");
        assert_ne!(ghost1.salt, other.salt, "and its own");
        assert_eq!((ghost1.iterations, known.iterations), (4096, 4096));
    }
}

#[test]
fn an_exchange_fails_when_its_final_message_is_tampered_with() {
    let m = ScramMechanism::Sha256;
    let users = [("user", "pencil")];
    let start = || {
        let (mut client, first) = ScramClient::new(m, "user", "pencil", "CN");
        let credential = credential_of(m, &users, "user");
        let first = parse_client_first(&first).unwrap();
        let (server, server_first) = ScramServer::start(m, first, credential, "SN", DECOY_KEY);
        let client_final = String::from_utf8(client.server_first(&server_first).unwrap()).unwrap();
        (server, client_final)
    };
    let (server, honest) = start();
    assert!(
        server.finish(honest.as_bytes()).is_ok(),
        "the untampered one passes"
    );

    let proof = honest.rsplit_once(",p=").unwrap().1.to_string();
    let tampered = [
        // Another nonce (a replay from another exchange), kept well-formed.
        honest.replace("r=CNSN", "r=CNSX"),
        honest.replace("r=CNSN", "r=CNSNX"),
        // Another channel binding: `y,,` instead of the `n,,` the client-first sent.
        honest.replace("c=biws", "c=eSws"),
        honest.replace("c=biws", "c="),
        // Proofs of the wrong length (31 and 33 bytes, and none).
        honest.replace(&proof, &B64.encode([0u8; 31])),
        honest.replace(&proof, &B64.encode([0u8; 33])),
        honest.replace(&proof, ""),
        // Same length, one bit off.
        {
            let mut bytes = B64.decode(&proof).unwrap();
            bytes[0] ^= 1;
            honest.replace(&proof, &B64.encode(bytes))
        },
        // An extension the proof did not sign.
        honest.replace(",p=", ",x=1,p="),
    ];
    for message in tampered {
        assert!(parse_client_final(message.as_bytes()).is_ok(), "{message}");
        let (server, _) = start();
        assert_eq!(
            server.finish(message.as_bytes()),
            Err(ScramError::AuthenticationFailed),
            "{message}"
        );
    }
}

#[test]
fn a_final_message_signed_for_another_nonce_or_header_fails() {
    let m = ScramMechanism::Sha256;
    let bare = "n=user,r=CN";
    let start = || {
        let first = parse_client_first(format!("n,,{bare}").as_bytes()).unwrap();
        let credential = credential_of(m, &[("user", "pencil")], "user");
        ScramServer::start(m, first, credential, "SN", DECOY_KEY)
    };
    let (server, server_first) = start();
    let honest = prove_for_nonce(m, "pencil", "n,,", bare, &server_first, "CNSN");
    assert!(
        server.finish(&honest).is_ok(),
        "the helper signs as a client does"
    );
    // Properly signed, but for a nonce this exchange did not hand out (a replay, or a client
    // choosing the server's part itself).
    for nonce in ["CNSX", "CN", "CNSNSN", "XXSN", "CNCNSNX", "SNCNSN"] {
        let (server, server_first) = start();
        let replayed = prove_for_nonce(m, "pencil", "n,,", bare, &server_first, nonce);
        assert_eq!(
            server.finish(&replayed),
            Err(ScramError::AuthenticationFailed),
            "{nonce}"
        );
    }
    // librdkafka before 2.6.1 repeats its own nonce before the whole one (PR #4895): accepted,
    // as Kafka 3.8.1–3.9 do (Debian's kcat is built on such a librdkafka).
    let (server, server_first) = start();
    let doubled = prove_for_nonce(m, "pencil", "n,,", bare, &server_first, "CNCNSN");
    assert!(server.finish(&doubled).is_ok());
    // Properly signed, but binding another GS2 header than the one the client-first sent.
    let (server, server_first) = start();
    let rebound = prove(m, "pencil", "y,,", bare, &server_first);
    assert_eq!(
        server.finish(&rebound),
        Err(ScramError::AuthenticationFailed)
    );
}

#[test]
fn a_malformed_final_message_is_a_protocol_error() {
    let m = ScramMechanism::Sha256;
    let first = parse_client_first(b"n,,n=user,r=c").unwrap();
    let (server, _) = ScramServer::start(m, first, None, "s", DECOY_KEY);
    assert_eq!(
        server.finish(b"c=biws,r=cs"),
        Err(ScramError::Malformed("no proof attribute at the end"))
    );
}

#[test]
fn escaped_user_names_round_trip() {
    for name in ["a,b", "x=y", "=2C", "a=b,c=d", "ünïcødé"] {
        let users = [(name, "secret")];
        let (_, outcome) = login(ScramMechanism::Sha256, &users, name, "secret", ("c", "s"));
        assert_eq!(outcome.unwrap().username, name);
    }
}

#[test]
fn the_y_flag_logs_in_like_n() {
    let (_, outcome) = hand_made_login("y,,", "n=user,r=CN", "pencil");
    assert_eq!(outcome.unwrap().username, "user");
    let (_, outcome) = hand_made_login("y,,", "n=user,r=CN", "wrong");
    assert_eq!(outcome, Err(ScramError::AuthenticationFailed));
}

#[test]
fn a_delegation_token_login_fails_and_shows_the_users_own_salt() {
    let (normal, outcome) = hand_made_login("n,,", "n=user,r=CN", "pencil");
    assert!(
        outcome.is_ok(),
        "the right password without tokenauth logs in"
    );
    let (token, outcome) = hand_made_login("n,,", "n=user,r=CN,tokenauth=true", "pencil");
    assert_eq!(outcome, Err(ScramError::AuthenticationFailed));
    assert_eq!(
        token, normal,
        "a token login must not tell real users from decoys"
    );
    let (_, outcome) = hand_made_login("n,,", "n=user,r=CN,tokenauth=false", "pencil");
    assert!(outcome.is_ok(), "tokenauth=false is an ordinary login");
}

#[test]
fn an_authzid_must_name_the_user() {
    let (_, outcome) = hand_made_login("n,a=user,", "n=user,r=CN", "pencil");
    assert_eq!(outcome.unwrap().username, "user");
    let (_, outcome) = hand_made_login("n,a=admin,", "n=user,r=CN", "pencil");
    assert_eq!(outcome, Err(ScramError::AuthenticationFailed));
    // The channel binding must repeat the authzid header, not just `n,,`.
    let m = ScramMechanism::Sha256;
    let first = parse_client_first(b"n,a=user,n=user,r=CN").unwrap();
    let credential = credential_of(m, &[("user", "pencil")], "user");
    let (server, server_first) = ScramServer::start(m, first, credential, "SN", DECOY_KEY);
    let wrong_binding = prove(m, "pencil", "n,,", "n=user,r=CN", &server_first);
    assert_eq!(
        server.finish(&wrong_binding),
        Err(ScramError::AuthenticationFailed)
    );
}

#[test]
fn a_server_that_does_not_know_the_credential_is_caught_by_the_client() {
    // A server with the stored key but a wrong server key (it cannot sign).
    let m = ScramMechanism::Sha256;
    let (mut client, first) = ScramClient::new(m, "user", "pencil", "CN");
    let mut credential = credential_of(m, &[("user", "pencil")], "user").unwrap();
    credential.server_key = vec![0; 32];
    let first = parse_client_first(&first).unwrap();
    let (server, server_first) = ScramServer::start(m, first, Some(credential), "SN", DECOY_KEY);
    let success = server
        .finish(&client.server_first(&server_first).unwrap())
        .unwrap();
    assert_eq!(
        client.server_final(&success.server_final),
        Err(ScramError::AuthenticationFailed)
    );
}

/// Text made of SCRAM's own characters, so that random inputs get past the first checks.
fn scram_like() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[nyparcvmise=,23CDbiwsA-Z0-9+/ükentauhfl\\x00]{0,80}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_client_first(&bytes);
        let _ = parse_client_final(&bytes);
        let _ = parse_server_first(&bytes);
        let _ = parse_server_final(&bytes);
    }

    #[test]
    fn parsers_never_panic_on_scram_like_text(text in scram_like()) {
        let _ = parse_client_first(text.as_bytes());
        let _ = parse_client_final(text.as_bytes());
        let _ = parse_server_final(text.as_bytes());
        let first = parse_server_first(text.as_bytes());
        if let Ok(first) = first {
            prop_assert!(!first.salt.is_empty());
        }
    }

    #[test]
    fn a_server_exchange_never_panics_and_never_lets_a_stranger_in(text in scram_like()) {
        let m = ScramMechanism::Sha256;
        let first = parse_client_first(b"n,,n=user,r=CN").unwrap();
        let credential = credential_of(m, &[("user", "pencil")], "user");
        let (server, _) = ScramServer::start(m, first, credential, "SN", DECOY_KEY);
        prop_assert!(server.finish(text.as_bytes()).is_err());
    }

    #[test]
    fn a_client_never_panics_on_a_servers_answers(
        server_first in scram_like(),
        server_final in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let (mut client, _) = ScramClient::new(ScramMechanism::Sha256, "u", "p", "CN");
        if client.server_first(server_first.as_bytes()).is_ok() {
            prop_assert!(client.server_final(&server_final).is_err());
        }
    }
}

proptest! {
    // Every case runs PBKDF2 twice (credential and client): few cases.
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn any_user_name_and_password_round_trip(
        name in "[^\\x00]{1,20}",
        password in ".{0,20}",
        client_nonce in "[!-+\\--~]{1,24}",
    ) {
        let users = [(name.as_str(), password.as_str())];
        let (_, outcome) = login(ScramMechanism::Sha256, &users, &name, &password, (&client_nonce, "S"));
        prop_assert_eq!(outcome.unwrap().username, name.clone());
        let wrong = format!("{password}!");
        let (_, outcome) = login(ScramMechanism::Sha256, &users, &name, &wrong, (&client_nonce, "S"));
        prop_assert_eq!(outcome, Err(ScramError::AuthenticationFailed));
    }
}
