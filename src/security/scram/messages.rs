//! The grammar SCRAM's four messages share (RFC 5802 §7): comma-separated `a=value`
//! attributes in a fixed order, user names with `,` and `=` escaped, printable nonces, base64
//! values and optional `key=value` extensions at the end. Each side's parser (`server`,
//! `client`) is built from these pieces so that both read the same language.

use std::collections::BTreeMap;

use base64::Engine;

use super::ScramError;
use crate::limits::SASL_MESSAGE_BYTES_MAX;

/// RFC 5802's base64: the standard alphabet with padding (and nothing lenient: a value that
/// decodes two ways would make the channel-binding check ambiguous).
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The message as text, once it is known to be small: every SCRAM message is UTF-8 (user
/// names may be any Unicode; everything else is ASCII).
pub(super) fn text(bytes: &[u8]) -> Result<&str, ScramError> {
    if bytes.len() > SASL_MESSAGE_BYTES_MAX {
        return Err(ScramError::Malformed(
            "message longer than SASL_MESSAGE_BYTES_MAX",
        ));
    }
    std::str::from_utf8(bytes).map_err(|_| ScramError::Malformed("message is not UTF-8"))
}

/// The value of `part` if it is the attribute `prefix` (`"r="`), else `missing`. Attributes
/// come in a fixed order, so the caller names the one it expects at this position.
pub(super) fn attribute<'a>(
    part: Option<&'a str>,
    prefix: &'static str,
    missing: &'static str,
) -> Result<&'a str, ScramError> {
    part.and_then(|p| p.strip_prefix(prefix))
        .ok_or(ScramError::Malformed(missing))
}

/// RFC 5802's `saslname` → the user name: `=2C` is `,` and `=3D` is `=`; any other `=` (and
/// an empty name, and NUL) is malformed, so that one name has exactly one spelling.
pub fn decode_saslname(text: &str) -> Result<String, ScramError> {
    if text.is_empty() {
        return Err(ScramError::Malformed("empty user name"));
    }
    if text.contains('\0') {
        return Err(ScramError::Malformed("NUL in a user name"));
    }
    let mut name = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('=') {
        name.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => name.push(','),
            Some("=3D") => name.push('='),
            _ => {
                return Err(ScramError::Malformed(
                    "'=' in a user name that is not =2C or =3D",
                ))
            }
        }
        rest = &rest[at + 3..];
    }
    name.push_str(rest);
    Ok(name)
}

/// The user name as a `saslname`: the inverse of [`decode_saslname`].
pub fn encode_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// RFC 5802's `printable`: one or more of `%x21-7E` except `,`.
pub fn is_nonce(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// The trailing `key=value` extensions (RFC 5802 `extensions`, Kafka's `ScramExtensions`):
/// names are letters, values non-empty, each name at most once (two `tokenauth`s would leave
/// which one counts to the reader).
pub(super) fn extensions<'a>(
    parts: impl Iterator<Item = &'a str>,
) -> Result<BTreeMap<String, String>, ScramError> {
    let mut found = BTreeMap::new();
    for part in parts {
        let (key, value) = part
            .split_once('=')
            .ok_or(ScramError::Malformed("an extension is not key=value"))?;
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ScramError::Malformed("an extension's name is not letters"));
        }
        if value.is_empty() || value.contains('\0') {
            return Err(ScramError::Malformed("an extension has no value"));
        }
        if found.insert(key.to_string(), value.to_string()).is_some() {
            return Err(ScramError::Malformed("an extension is given twice"));
        }
    }
    Ok(found)
}

pub(super) fn decode_b64(text: &str, what: &'static str) -> Result<Vec<u8>, ScramError> {
    B64.decode(text).map_err(|_| ScramError::Malformed(what))
}

pub(super) fn encode_b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saslnames_unescape_exactly_two_sequences() {
        assert_eq!(decode_saslname("a=2Cb=3Dc").unwrap(), "a,b=c");
        assert_eq!(decode_saslname("=3D=2C").unwrap(), "=,");
        assert_eq!(decode_saslname("élan").unwrap(), "élan");
        for bad in ["", "a=", "a=2", "a=2c", "a=3d", "a=41", "=", "a\0b", "a=é"] {
            assert!(
                matches!(decode_saslname(bad), Err(ScramError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn saslnames_escape_and_unescape_back() {
        for name in ["user", "a,b", "a=b", "=2C", ",=,=", "ü=,"] {
            let escaped = encode_saslname(name);
            assert!(!escaped.contains(','), "{escaped}");
            assert_eq!(decode_saslname(&escaped).unwrap(), name);
        }
        assert_eq!(encode_saslname("=2C"), "=3D2C");
    }

    #[test]
    fn nonces_are_printable_ascii_without_commas() {
        assert!(is_nonce(
            "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        ));
        assert!(is_nonce("~!"));
        for bad in ["", "a,b", "a b", "é", "a\x7f", "\t"] {
            assert!(!is_nonce(bad), "{bad:?}");
        }
    }

    #[test]
    fn extensions_are_letters_equals_value_each_once() {
        let found = extensions(["tokenauth=true", "x=a=b"].into_iter()).unwrap();
        assert_eq!(found.get("tokenauth").map(String::as_str), Some("true"));
        assert_eq!(found.get("x").map(String::as_str), Some("a=b"));
        assert!(extensions(std::iter::empty()).unwrap().is_empty());
        for bad in [
            &["novalue"][..],
            &["=v"],
            &["k1=v"],
            &["k="],
            &["a=1", "a=2"],
            &[""],
        ] {
            assert!(extensions(bad.iter().copied()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn messages_past_the_bound_or_not_utf8_are_malformed() {
        assert_eq!(text(b"n,,n=u,r=x").unwrap(), "n,,n=u,r=x");
        assert!(text(&vec![b'a'; SASL_MESSAGE_BYTES_MAX]).is_ok());
        assert!(matches!(
            text(&vec![b'a'; SASL_MESSAGE_BYTES_MAX + 1]),
            Err(ScramError::Malformed(_))
        ));
        assert!(matches!(text(b"\xff"), Err(ScramError::Malformed(_))));
    }

    #[test]
    fn base64_is_strict_standard_with_padding() {
        assert_eq!(decode_b64("biws", "c").unwrap(), b"n,,");
        assert_eq!(encode_b64(b"n,,"), "biws");
        assert_eq!(
            decode_b64("W22ZaJ0SNY7soEsUEjb6gQ==", "s").unwrap().len(),
            16
        );
        for bad in [
            "biw",
            "b!ws",
            "bi=s",
            "W22ZaJ0SNY7soEsUEjb6gQ",
            "biws\n",
            "bi-_",
        ] {
            assert_eq!(
                decode_b64(bad, "c"),
                Err(ScramError::Malformed("c")),
                "{bad:?}"
            );
        }
    }
}
