use super::*;

fn client() -> ScramClient {
    ScramClient::new(ScramMechanism::Sha256, "user", "pencil", "cnonce").0
}

#[test]
fn the_first_message_escapes_the_user_name() {
    let (_, first) = ScramClient::new(ScramMechanism::Sha512, "a,b=c", "pw", "N0nce!");
    assert_eq!(first, b"n,,n=a=2Cb=3Dc,r=N0nce!");
}

#[test]
#[should_panic(expected = "client nonce")]
fn a_client_nonce_with_a_comma_is_the_callers_bug() {
    ScramClient::new(ScramMechanism::Sha256, "u", "p", "a,b");
}

#[test]
fn server_first_parses_nonce_salt_iterations_and_skips_extensions() {
    let parsed = parse_server_first(b"r=abcXYZ,s=c2FsdHk=,i=4096,ext=1").unwrap();
    assert_eq!(
        parsed,
        ServerFirst {
            nonce: "abcXYZ".to_string(),
            salt: b"salty".to_vec(),
            iterations: 4096,
        }
    );
}

#[test]
fn server_first_refuses_bad_grammar() {
    for bad in [
        "",
        "r=abc,s=c2FsdHk=",
        "r=abc,s=c2FsdHk=,i=",
        "r=abc,s=c2FsdHk=,i=+4096",
        "r=abc,s=c2FsdHk=,i=-1",
        "r=abc,s=c2FsdHk=,i=4096x",
        "r=abc,s=c2FsdHk=,i=99999999999",
        "r=abc,s=,i=4096",
        "r=abc,s=!!,i=4096",
        "r=a b,s=c2FsdHk=,i=4096",
        "s=c2FsdHk=,r=abc,i=4096",
        "m=x,r=abc,s=c2FsdHk=,i=4096",
        "r=abc,s=c2FsdHk=,i=4096,",
        "e=other-error",
    ] {
        assert!(
            matches!(
                parse_server_first(bad.as_bytes()),
                Err(ScramError::Malformed(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn server_final_is_a_verifier_or_an_error() {
    assert_eq!(
        parse_server_final(b"v=AAEC").unwrap(),
        ServerFinal::Verifier(vec![0, 1, 2])
    );
    assert_eq!(
        parse_server_final(b"v=AAEC,ext=1").unwrap(),
        ServerFinal::Verifier(vec![0, 1, 2])
    );
    assert_eq!(
        parse_server_final(b"e=invalid-proof").unwrap(),
        ServerFinal::Error("invalid-proof".to_string())
    );
    for bad in ["", "e=", "v=!", "x=1", "v=AAEC,", "v"] {
        assert!(parse_server_final(bad.as_bytes()).is_err(), "{bad:?}");
    }
}

#[test]
fn a_server_nonce_that_does_not_extend_ours_is_refused() {
    for nonce in ["cnonce", "other", "cnonc", "xcnonceS"] {
        let answer = format!("r={nonce},s=c2FsdHk=,i=4096");
        assert_eq!(
            client().server_first(answer.as_bytes()),
            Err(ScramError::Malformed(
                "server nonce does not extend the client's"
            )),
            "{nonce}"
        );
    }
}

#[test]
fn iteration_counts_outside_kafkas_bounds_are_refused() {
    assert_eq!(
        client().server_first(b"r=cnonceS,s=c2FsdHk=,i=4095"),
        Err(ScramError::Malformed("iteration count below 4096"))
    );
    assert_eq!(
        client().server_first(b"r=cnonceS,s=c2FsdHk=,i=1"),
        Err(ScramError::Malformed("iteration count below 4096"))
    );
    assert_eq!(
        client().server_first(b"r=cnonceS,s=c2FsdHk=,i=16385"),
        Err(ScramError::Malformed("iteration count above 16384"))
    );
    assert!(client()
        .server_first(b"r=cnonceS,s=c2FsdHk=,i=4096")
        .is_ok());
}

#[test]
fn messages_out_of_order_are_refused() {
    assert_eq!(
        client().server_final(b"v=AAEC"),
        Err(ScramError::Malformed("server-final message out of order"))
    );
    let mut client = client();
    client.server_first(b"r=cnonceS,s=c2FsdHk=,i=4096").unwrap();
    assert_eq!(
        client.server_first(b"r=cnonceS,s=c2FsdHk=,i=4096"),
        Err(ScramError::Malformed("server-first message out of order"))
    );
    // A refused server-first ends the exchange: no retry with another salt.
    let mut refused = self::client();
    assert!(refused.server_first(b"r=cnonceS,s=c2FsdHk=,i=1").is_err());
    assert!(refused
        .server_first(b"r=cnonceS,s=c2FsdHk=,i=4096")
        .is_err());
}

#[test]
fn the_server_must_answer_with_the_right_signature() {
    let mut c = client();
    c.server_first(b"r=cnonceS,s=c2FsdHk=,i=4096").unwrap();
    let wrong = format!("v={}", messages::encode_b64(&[7; 32]));
    assert_eq!(
        c.server_final(wrong.as_bytes()),
        Err(ScramError::AuthenticationFailed)
    );
    let mut c = client();
    c.server_first(b"r=cnonceS,s=c2FsdHk=,i=4096").unwrap();
    assert_eq!(
        c.server_final(b"e=invalid-proof"),
        Err(ScramError::AuthenticationFailed)
    );
    let mut c = client();
    c.server_first(b"r=cnonceS,s=c2FsdHk=,i=4096").unwrap();
    assert_eq!(
        c.server_final(b"v=AAEC"),
        Err(ScramError::AuthenticationFailed)
    );
}

#[test]
fn debug_output_hides_the_password() {
    let (client, _) = ScramClient::new(ScramMechanism::Sha256, "u", "hunter2", "n");
    let shown = format!("{client:?}");
    assert!(shown.contains("AwaitingServerFirst"), "{shown}");
    // Neither as text nor as the bytes a derived Debug would print.
    assert!(
        !shown.contains("hunter2") && !shown.contains("104, 117"),
        "{shown}"
    );
}

#[test]
fn a_kept_salted_password_is_used_only_for_its_salt_and_count() {
    let server_first = b"r=cnonceS,s=c2FsdHk=,i=4096";
    let final_of = |kept: Option<SaltedPassword>| {
        let mut c = client();
        if let Some(kept) = kept {
            c.keep_salted(kept);
        }
        c.server_first(server_first).unwrap()
    };
    let salted = ScramMechanism::Sha256.salted_password(b"pencil", b"salty", 4096);
    let kept = |salt: &[u8], iterations: u32, salted: Vec<u8>| SaltedPassword {
        salt: salt.to_vec(),
        iterations,
        salted,
    };
    let computed = final_of(None);
    // The right value kept: the same proof, without salting again.
    assert_eq!(
        final_of(Some(kept(b"salty", 4096, salted.clone()))),
        computed
    );
    // Another value for this salt and count is used as it is (here: a proof of nothing).
    assert_ne!(final_of(Some(kept(b"salty", 4096, vec![9; 32]))), computed);
    // Kept for another salt or count: the password is salted as usual.
    assert_eq!(final_of(Some(kept(b"other", 4096, vec![9; 32]))), computed);
    assert_eq!(final_of(Some(kept(b"salty", 8192, vec![9; 32]))), computed);
    // Its Debug hides the value.
    let shown = format!("{:?}", kept(b"salty", 4096, vec![0xab; 4]));
    assert!(!shown.contains("171"), "{shown}");
}
