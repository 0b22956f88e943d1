//! Java properties syntax (`server.properties`), as `java.util.Properties::load` reads it, so a
//! Kafka user's file means the same thing to Rill as to Kafka.
//!
//! * A natural line ends at `\n`, `\r` or `\r\n`. A line whose first non-blank character is `#`
//!   or `!` is a comment; blank lines are skipped. Blanks are space, tab and form feed.
//! * A line ending in an odd number of backslashes continues on the next line, whose leading
//!   blanks are dropped (comment markers there are text, not comments).
//! * The key runs to the first unescaped `=`, `:` or blank; blanks around one optional `=`/`:`
//!   separate it from the value (`k=v`, `k: v`, `k v`, `k = v`). A line with a key only has the
//!   value "".
//! * Escapes in keys and values: `\t \n \r \f`, `\uXXXX` (UTF-16, so surrogate pairs combine),
//!   and `\` before any other character is that character (`\=`, `\:`, `\ `, `\\`, `\#`).
//! * A later line for the same key wins (left to the caller, which sees every line in order).
//!
//! Values are returned as written; Kafka trims them when typing them, and so does the caller.

/// One `key=value` of the file, with the (1-based) line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub line: usize,
    pub key: String,
    pub value: String,
}

/// Parses a properties file. The only error is a malformed `\u` escape (Java refuses it too).
pub fn parse(text: &str) -> Result<Vec<Property>, String> {
    logical_lines(text)
        .into_iter()
        .map(|(line, logical)| {
            let (key, value) = split_key_value(&logical);
            let at_line = |problem: String| format!("line {line}: {problem}");
            Ok(Property {
                line,
                key: unescape(key).map_err(at_line)?,
                value: unescape(value).map_err(at_line)?,
            })
        })
        .collect()
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Natural lines: `\r\n`, `\r` and `\n` all end one.
fn natural_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(end) => {
                let after = if current[end..].starts_with("\r\n") {
                    end + 2
                } else {
                    end + 1
                };
                rest = Some(&current[after..]);
                Some(&current[..end])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Whether the line ends in an odd number of backslashes (an even number are escaped ones).
fn continues(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Joins continued lines and drops comments and blank lines; keeps escapes for [`unescape`].
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut lines = natural_lines(text).enumerate();
    while let Some((index, line)) = lines.next() {
        let mut current = line.trim_start_matches(is_blank);
        if current.is_empty() || current.starts_with(['#', '!']) {
            continue;
        }
        let mut logical = String::new();
        while continues(current) {
            logical.push_str(&current[..current.len() - 1]);
            match lines.next() {
                Some((_, next)) => current = next.trim_start_matches(is_blank),
                // A backslash at the very end of the file is dropped, as Java does.
                None => {
                    current = "";
                    break;
                }
            }
        }
        logical.push_str(current);
        out.push((index + 1, logical));
    }
    out
}

/// Splits a logical line into its (still escaped) key and value.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    let mut value_start = line.len();
    let mut has_separator = false;
    for (i, c) in line.char_indices() {
        if !escaped && (c == '=' || c == ':' || is_blank(c)) {
            key_end = i;
            value_start = i + c.len_utf8();
            has_separator = c != ' ' && c != '\t' && c != '\x0c';
            break;
        }
        escaped = c == '\\' && !escaped;
    }
    // Blanks, then at most one `=` or `:` if the key did not end on one, then blanks.
    let mut rest = line[value_start..].trim_start_matches(is_blank);
    if !has_separator {
        if let Some(after) = rest.strip_prefix(['=', ':']) {
            rest = after.trim_start_matches(is_blank);
        }
    }
    (&line[..key_end], rest)
}

/// Resolves escapes. Text is gathered as UTF-16, Java's `char`, so that a surrogate pair given
/// as two `\u` escapes becomes one character.
fn unescape(text: &str) -> Result<String, String> {
    let mut units: Vec<u16> = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let c = if c == '\\' {
            match chars.next() {
                Some('t') => '\t',
                Some('n') => '\n',
                Some('r') => '\r',
                Some('f') => '\x0c',
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    if hex.len() != 4 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                        return Err(format!("malformed \\uXXXX escape '\\u{hex}'"));
                    }
                    units.push(u16::from_str_radix(&hex, 16).expect("four hex digits"));
                    continue;
                }
                Some(other) => other,
                None => break, // a lone trailing backslash was a continuation; nothing follows
            }
        } else {
            c
        };
        let mut buf = [0u16; 2];
        units.extend_from_slice(c.encode_utf16(&mut buf));
    }
    String::from_utf16(&units).map_err(|_| "a \\u escape is half of a surrogate pair".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|p| (p.key, p.value))
            .collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn separators_comments_and_blank_lines() {
        let text = "# a comment\n\
                    ! another comment\n\
                    \n   \t\n\
                    a=1\n\
                    b: 2\n\
                    c 3\n\
                    \t  d  =  4\n\
                    e\n\
                    f:=x\n\
                    g =: y\n";
        assert_eq!(
            pairs(text),
            vec![
                pair("a", "1"),
                pair("b", "2"),
                pair("c", "3"),
                pair("d", "4"),
                pair("e", ""),
                pair("f", "=x"),
                pair("g", ": y"),
            ]
        );
    }

    #[test]
    fn continuation_lines_join_and_drop_leading_blanks() {
        let text = "listeners=PLAINTEXT://127.0.0.1:9092,\\\n    PLAINTEXT://127.0.0.1:9093\r\n\
                    k = one \\\r\n   # not a comment\n\
                    even=ends in a backslash\\\\\n\
                    next=line";
        assert_eq!(
            pairs(text),
            vec![
                pair(
                    "listeners",
                    "PLAINTEXT://127.0.0.1:9092,PLAINTEXT://127.0.0.1:9093"
                ),
                pair("k", "one # not a comment"),
                pair("even", "ends in a backslash\\"),
                pair("next", "line"),
            ]
        );
        // A continuation at the end of the file just ends the value.
        assert_eq!(pairs("k=v\\"), vec![pair("k", "v")]);
        // A comment line does not continue.
        assert_eq!(pairs("# c \\\nk=v"), vec![pair("k", "v")]);
    }

    #[test]
    fn escapes_in_keys_and_values() {
        assert_eq!(
            pairs(r"a\=b\:c\ d = x\ty\nz\\w\u00e9\uD83D\uDE00\#"),
            vec![pair("a=b:c d", "x\ty\nz\\w\u{e9}\u{1F600}#")]
        );
    }

    #[test]
    fn bad_unicode_escapes_name_the_line() {
        assert_eq!(
            parse("a=1\nb=\\u12g4").unwrap_err(),
            "line 2: malformed \\uXXXX escape '\\u12g4'"
        );
        assert!(parse("b=\\u12").unwrap_err().contains("malformed"));
        assert!(parse("b=\\uD83D").unwrap_err().contains("surrogate"));
    }

    #[test]
    fn lines_are_numbered_where_each_property_starts() {
        let lines: Vec<usize> = parse("# c\n\na=1\\\n 2\nb=3")
            .unwrap()
            .iter()
            .map(|p| p.line)
            .collect();
        assert_eq!(lines, vec![3, 5]);
    }
}
