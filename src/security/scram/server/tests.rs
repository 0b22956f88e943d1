use super::*;

const DECOY_KEY: &[u8] = b"the cluster's decoy key";

fn first(text: &str) -> ClientFirst {
    parse_client_first(text.as_bytes()).unwrap()
}

fn malformed(result: Result<impl std::fmt::Debug, ScramError>) -> bool {
    matches!(result, Err(ScramError::Malformed(_)))
}

#[test]
fn client_first_parses_user_nonce_and_keeps_the_exact_header_and_bare_message() {
    let parsed = first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    assert_eq!(parsed.username(), "user");
    assert_eq!(parsed.client_nonce(), "rOprNGfwEbeRWgbNEkqO");
    assert_eq!(parsed.authzid(), None);
    assert!(!parsed.token_auth());
    assert_eq!(parsed.gs2_header, "n,,");
    assert_eq!(parsed.bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");

    let parsed = first("y,a=al=2Cice,n=al=2Cice,r=abc");
    assert_eq!(parsed.gs2_header, "y,a=al=2Cice,");
    assert_eq!(parsed.authzid(), Some("al,ice"));
    assert_eq!(parsed.username(), "al,ice");
    assert_eq!(parsed.bare, "n=al=2Cice,r=abc");
}

#[test]
fn client_first_unescapes_the_user_name() {
    assert_eq!(first("n,,n=a=3Db=2Cc,r=x").username(), "a=b,c");
    assert_eq!(first("n,,n=ünï,r=x").username(), "ünï");
    assert!(malformed(parse_client_first(b"n,,n=a=3db,r=x")));
    assert!(malformed(parse_client_first(b"n,,n=a=,r=x")));
    assert!(malformed(parse_client_first(b"n,a=b=,n=b,r=x")));
}

#[test]
fn client_first_extensions_set_token_auth_only_when_true() {
    assert!(first("n,,n=u,r=x,tokenauth=true").token_auth());
    assert!(first("n,,n=u,r=x,tokenauth=TRUE").token_auth());
    assert!(first("n,,n=u,r=x,other=1,tokenauth=true").token_auth());
    assert!(!first("n,,n=u,r=x,tokenauth=false").token_auth());
    assert!(!first("n,,n=u,r=x,other=true").token_auth());
    assert!(malformed(parse_client_first(
        b"n,,n=u,r=x,tokenauth=true,tokenauth=false"
    )));
    assert!(malformed(parse_client_first(b"n,,n=u,r=x,")));
    assert!(malformed(parse_client_first(b"n,,n=u,r=x,tokenauth")));
}

#[test]
fn client_first_refuses_channel_binding_mandatory_extensions_and_bad_grammar() {
    for bad in [
        "p=tls-unique,,n=u,r=x",
        "m=ext,n=u,r=x",
        "n,,m=ext,n=u,r=x",
        "",
        "n",
        "n,",
        "n,,",
        "x,,n=u,r=x",
        "N,,n=u,r=x",
        "n,b=u,n=u,r=x",
        "n,,r=x,n=u",
        "n,,n=,r=x",
        "n,,n=u",
        "n,,n=u,r=",
        "n,,n=u,r=a b",
        "n,,n=u,r=é",
        "n,,n=u,x=y",
        "n,,u,r=x",
    ] {
        assert!(malformed(parse_client_first(bad.as_bytes())), "{bad:?}");
    }
    assert!(malformed(parse_client_first(b"n,,n=u,r=\xff")));
}

#[test]
fn client_first_past_the_size_bound_is_malformed() {
    let name = "u".repeat(crate::limits::SASL_MESSAGE_BYTES_MAX);
    let message = format!("n,,n={name},r=x");
    assert_eq!(
        parse_client_first(message.as_bytes()),
        Err(ScramError::Malformed(
            "message longer than SASL_MESSAGE_BYTES_MAX"
        ))
    );
    let fits = format!(
        "n,,n={},r=x",
        &name[..crate::limits::SASL_MESSAGE_BYTES_MAX - 10]
    );
    assert!(parse_client_first(fits.as_bytes()).is_ok());
}

#[test]
fn client_final_parses_channel_binding_nonce_extensions_and_proof() {
    let parsed = parse_client_final(b"c=biws,r=abcdef,ext=1,p=AAEC").unwrap();
    assert_eq!(parsed.channel_binding, b"n,,");
    assert_eq!(parsed.nonce, "abcdef");
    assert_eq!(parsed.proof, [0, 1, 2]);
    assert_eq!(parsed.without_proof, "c=biws,r=abcdef,ext=1");
    let parsed = parse_client_final(b"c=biws,r=abc,p=").unwrap();
    assert!(parsed.proof.is_empty());
}

#[test]
fn client_final_refuses_bad_grammar() {
    for bad in [
        "",
        "c=biws,r=abc",
        "c=biws,r=abc,p=!!!!",
        "c=biws,r=abc,p=AAEC,x=1",
        "r=abc,c=biws,p=AAEC",
        "c=biw,r=abc,p=AAEC",
        "c=biws,p=AAEC",
        "c=biws,r=,p=AAEC",
        "c=biws,r=abc,bad,p=AAEC",
        "p=AAEC",
        ",p=AAEC",
    ] {
        assert!(malformed(parse_client_final(bad.as_bytes())), "{bad:?}");
    }
}

#[test]
fn start_answers_with_the_combined_nonce_the_salt_and_the_iterations() {
    let cred = ScramCredential::from_password(ScramMechanism::Sha256, b"pw", b"salty", 8192);
    let (server, server_first) = ScramServer::start(
        ScramMechanism::Sha256,
        first("n,,n=u,r=abc"),
        Some(cred),
        "XYZ",
        DECOY_KEY,
    );
    assert_eq!(server_first, b"r=abcXYZ,s=c2FsdHk=,i=8192");
    assert!(server.may_succeed);
    assert_eq!(server.nonce, "abcXYZ");
    assert_eq!(
        server.auth_message_head,
        "n=u,r=abc,r=abcXYZ,s=c2FsdHk=,i=8192"
    );
}

#[test]
#[should_panic(expected = "server nonce")]
fn start_refuses_a_server_nonce_with_a_comma() {
    ScramServer::start(
        ScramMechanism::Sha256,
        first("n,,n=u,r=abc"),
        None,
        "a,b",
        DECOY_KEY,
    );
}

#[test]
fn logins_that_cannot_succeed_are_marked_at_start() {
    let cred = || {
        Some(ScramCredential::from_password(
            ScramMechanism::Sha256,
            b"p",
            b"s",
            4096,
        ))
    };
    let may_succeed = |text: &str, cred: Option<ScramCredential>| {
        ScramServer::start(ScramMechanism::Sha256, first(text), cred, "S", DECOY_KEY)
            .0
            .may_succeed
    };
    assert!(may_succeed("n,,n=u,r=c", cred()));
    assert!(may_succeed("n,a=u,n=u,r=c", cred()));
    assert!(!may_succeed("n,,n=u,r=c", None));
    assert!(!may_succeed("n,,n=u,r=c,tokenauth=true", cred()));
    assert!(!may_succeed("n,a=admin,n=u,r=c", cred()));
}

#[test]
fn decoys_are_stable_per_user_and_mechanism_and_key() {
    for m in ScramMechanism::ALL {
        let a = decoy_credential(m, DECOY_KEY, "ghost");
        assert_eq!(a, decoy_credential(m, DECOY_KEY, "ghost"));
        assert_ne!(a.salt, decoy_credential(m, DECOY_KEY, "ghost2").salt);
        assert_ne!(a.salt, decoy_credential(m, b"other key", "ghost").salt);
        assert_eq!(a.iterations, 4096);
        assert_eq!(a.stored_key.len(), m.hash_bytes());
        assert_eq!(a.server_key.len(), m.hash_bytes());
        assert_ne!(a.stored_key, a.server_key);
    }
    assert_ne!(
        decoy_credential(ScramMechanism::Sha256, DECOY_KEY, "ghost").salt,
        decoy_credential(ScramMechanism::Sha512, DECOY_KEY, "ghost").salt
    );
}

#[test]
fn decoy_salts_are_shaped_like_kafkas() {
    for user in ["a", "b", "c", "d"] {
        let salt = decoy_credential(ScramMechanism::Sha512, DECOY_KEY, user).salt;
        assert!((20..=26).contains(&salt.len()), "{salt:?}");
        assert!(salt
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
    }
}
