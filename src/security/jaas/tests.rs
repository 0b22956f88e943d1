use super::*;
use proptest::prelude::*;

const PLAIN: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
const SCRAM: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

fn parse(text: &str) -> Result<JaasConfig, String> {
    JaasConfig::parse(text)
}

fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn kafkas_plain_broker_example() {
    let config = parse(
        "org.apache.kafka.common.security.plain.PlainLoginModule required \
         username=\"admin\" password=\"admin-secret\" \
         user_admin=\"admin-secret\" user_alice=\"alice-secret\";",
    )
    .unwrap();
    assert_eq!(config.login_module, PLAIN);
    assert_eq!(config.control_flag, "required");
    assert_eq!(config.option("username"), Some("admin"));
    assert_eq!(config.option("password"), Some("admin-secret"));
    assert_eq!(config.options.len(), 4);
    assert_eq!(
        config.plain_users(),
        options(&[("admin", "admin-secret"), ("alice", "alice-secret")])
    );
}

#[test]
fn quoted_values_take_backslash_escapes() {
    let config = parse(&format!(
        r#"{SCRAM} required username="alice" password="a\"b";"#
    ))
    .unwrap();
    assert_eq!(config.login_module, SCRAM);
    assert_eq!(config.option("password"), Some("a\"b"));

    let config =
        parse(r#"M required a="x\\y" b="\n\t\r" c="\101\60\0" d="\q\'" e="\477" f="\a\b\f\v";"#)
            .unwrap();
    assert_eq!(config.option("a"), Some("x\\y"));
    assert_eq!(config.option("b"), Some("\n\t\r"));
    assert_eq!(config.option("c"), Some("A0\0"));
    assert_eq!(config.option("d"), Some("q'"));
    assert_eq!(
        config.option("e"),
        Some("'7"),
        "\\47 then 7: two digits after 4-7"
    );
    assert_eq!(config.option("f"), Some("\x07\x08\x0c\x0b"));
}

#[test]
fn single_quotes_unquoted_words_and_any_spacing_are_accepted() {
    let config = parse("M\n  OPTIONAL\tuser_bob='b;o=b'  flag=true n=12.5-x\n;  ").unwrap();
    assert_eq!(config.control_flag, "optional");
    assert_eq!(
        config.options,
        options(&[("user_bob", "b;o=b"), ("flag", "true"), ("n", "12.5-x")])
    );
    let config = parse("M required k = \"v\" ;").unwrap();
    assert_eq!(config.option("k"), Some("v"));
    assert!(parse("M required;").unwrap().options.is_empty());
}

#[test]
fn every_control_flag_in_any_case() {
    for flag in ["required", "Requisite", "SUFFICIENT", "optional"] {
        let config = parse(&format!("M {flag};")).unwrap();
        assert_eq!(config.control_flag, flag.to_ascii_lowercase());
    }
}

#[test]
fn comments_are_skipped() {
    let config = parse(
        "// the broker's users\n M /* flag: */ required // end of line\n k=\"//not a comment\";",
    )
    .unwrap();
    assert_eq!(config.option("k"), Some("//not a comment"));
    assert_eq!(config.login_module, "M");
}

#[test]
fn plain_users_are_the_user_options_with_a_name() {
    let config =
        parse(r#"M required user_="x" user_a="1" username="u" users="y" user_b_c="2";"#).unwrap();
    assert_eq!(config.plain_users(), options(&[("a", "1"), ("b_c", "2")]));
}

#[test]
fn exactly_one_login_module() {
    assert_eq!(
        parse("").unwrap_err(),
        "sasl.jaas.config names no login module"
    );
    assert_eq!(
        parse("  // only a comment\n").unwrap_err(),
        "sasl.jaas.config names no login module"
    );
    assert_eq!(
        parse("A required; B required;").unwrap_err(),
        "sasl.jaas.config names 2 login modules; it takes exactly one"
    );
}

#[test]
fn errors_say_what_is_wrong() {
    let cases = [
        ("M", "login module M has no control flag"),
        (
            "M mandatory;",
            "login module M: the control flag must be one of required",
        ),
        ("M = x;", "login module M: the control flag must be one of"),
        (
            "M required k=\"v\"",
            "login module M: the entry is not ended by ';'",
        ),
        ("M required k;", "login module M: option 'k' has no value"),
        ("M required k=;", "login module M: option 'k' has no value"),
        (
            "M required k \"v\";",
            "login module M: option 'k' has no value",
        ),
        (
            "M required k=\"v\" k=\"w\";",
            "login module M: option 'k' is given twice",
        ),
        ("M required \"k\"=\"v\";", "an option name must be a word"),
        ("M required =\"v\";", "'=' without an option name"),
        (
            "M required k=\"v;",
            "the value of option 'k' is not closed on its line",
        ),
        (
            "M required k=\"v\nw\";",
            "the value of option 'k' is not closed on its line",
        ),
        (
            "M required k=@v;",
            "the value of option 'k' is neither a word nor a quoted string",
        ),
        (
            "M required a=\"1\" @;",
            "after option 'a': unexpected character",
        ),
        (
            "M required @;",
            "before its first option: unexpected character",
        ),
        ("M required /* open", "a /* comment is not closed"),
        ("\"M\" required;", "expected a login module class name"),
        (
            "M required; @",
            "unexpected character outside a login module's options",
        ),
        (
            "M required k=x /y;",
            "after option 'k': unexpected character",
        ),
    ];
    for (text, expected) in cases {
        let error = parse(text).unwrap_err();
        assert!(error.contains(expected), "{text:?}: {error}");
    }
}

#[test]
fn errors_never_quote_a_password() {
    let secret = "S3cretValue";
    for text in [
        format!("M required password=\"{secret}"),
        format!("M required password=\"{secret}\" password=\"{secret}\";"),
        format!("M required password=\"{secret}\" @;"),
        format!("M required password={secret}@x;"),
        format!("M required password=\"{secret}\""),
        format!("M required \"{secret}\"=\"x\";"),
        format!("M required password \"{secret}\";"),
        format!("M \"{secret}\";"),
        format!("\"{secret}\" required;"),
        format!("M required password=\"{secret}\"; N required;"),
    ] {
        let error = parse(&text).unwrap_err();
        assert!(!error.contains("S3cret"), "{text:?}: {error}");
    }
}

#[test]
fn debug_output_names_options_but_hides_values() {
    let config = parse("M required password=\"hunter2\";").unwrap();
    let shown = format!("{config:?}");
    assert!(
        shown.contains("password") && !shown.contains("hunter2"),
        "{shown}"
    );
}

/// Text made of the JAAS grammar's own characters, so random inputs reach every state.
fn jaas_like() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[Mrequidkv_ =;\"'\\\\/*\\n0-9@ü]{0,60}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn parse_never_panics_on_jaas_like_text(text in jaas_like()) {
        if let Ok(config) = parse(&text) {
            prop_assert!(CONTROL_FLAGS.contains(&config.control_flag.as_str()));
        }
    }

    #[test]
    fn errors_never_quote_a_random_password(
        password in "PW[A-Za-z0-9]{12}",
        quote in prop::bool::ANY,
        junk in jaas_like(),
    ) {
        let value = if quote { format!("\"{password}\"") } else { password.clone() };
        let text = format!("M required user_a={value} {junk}");
        match parse(&text) {
            Err(error) => prop_assert!(!error.contains(&password), "{}", error),
            Ok(config) => prop_assert_eq!(config.plain_users().get("a").cloned(), Some(password)),
        }
    }

    #[test]
    fn quoted_values_round_trip(value in "[^\\n\\r]{0,30}") {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        let config = parse(&format!("M required k=\"{escaped}\";")).unwrap();
        prop_assert_eq!(config.option("k"), Some(value.as_str()));
    }
}
