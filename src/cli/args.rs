//! A small flag parser for the client tools, in the style of Kafka's shell tools:
//! `--flag value`, `--flag=value`, switches, and repeatable `key=value` flags that also take
//! several pairs after one flag (`--property print.key=true print.offset=true`).

use std::collections::{BTreeMap, BTreeSet};

/// The flags one tool accepts.
pub struct Spec {
    /// Flags without a value.
    pub switches: &'static [&'static str],
    /// Flags with exactly one value (the last one given wins).
    pub values: &'static [&'static str],
    /// Repeatable flags taking `key=value` pairs.
    pub properties: &'static [&'static str],
}

/// Parsed flags.
#[derive(Debug, Default)]
pub struct Args {
    switches: BTreeSet<String>,
    values: BTreeMap<String, String>,
    /// Every value each value flag was given, in order (kafka-acls repeats `--operation`).
    all_values: BTreeMap<String, Vec<String>>,
    properties: BTreeMap<String, Vec<(String, String)>>,
    /// Every switch and value flag as given, in command-line order, with its value (`None`
    /// for a switch): where the order across flags matters (kafka-configs pairs each
    /// `--entity-name` or `--entity-default` with the `--entity-type` in the same position).
    sequence: Vec<(String, Option<String>)>,
}

impl Args {
    pub fn parse(args: &[String], spec: &Spec) -> Result<Self, String> {
        let mut parsed = Args::default();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            if spec.switches.contains(&flag) {
                if inline.is_some() {
                    return Err(format!("{flag} takes no value"));
                }
                parsed.switches.insert(flag.to_string());
                parsed.sequence.push((flag.to_string(), None));
            } else if spec.values.contains(&flag) {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        let v = args.get(i).ok_or_else(|| format!("{flag} needs a value"))?;
                        i += 1;
                        v.clone()
                    }
                };
                (parsed.all_values.entry(flag.to_string()).or_default()).push(value.clone());
                parsed
                    .sequence
                    .push((flag.to_string(), Some(value.clone())));
                parsed.values.insert(flag.to_string(), value);
            } else if spec.properties.contains(&flag) {
                let mut pairs = Vec::new();
                if let Some(v) = inline {
                    pairs.push(v);
                } else {
                    while let Some(next) = args.get(i) {
                        if next.starts_with("--") || (!pairs.is_empty() && !next.contains('=')) {
                            break;
                        }
                        pairs.push(next.clone());
                        i += 1;
                    }
                }
                if pairs.is_empty() {
                    return Err(format!("{flag} needs key=value"));
                }
                let list = parsed.properties.entry(flag.to_string()).or_default();
                for pair in pairs {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| format!("{flag} expects key=value, got '{pair}'"))?;
                    list.push((k.to_string(), v.to_string()));
                }
            } else {
                return Err(format!("unknown option '{arg}'"));
            }
        }
        Ok(parsed)
    }

    pub fn has(&self, switch: &str) -> bool {
        self.switches.contains(switch)
    }

    /// The one switch of `actions` given (a tool's mode: `--list`, `--describe`, …); an error
    /// naming them all when none or several are.
    pub fn one_of<'a>(&self, actions: &[&'a str]) -> Result<&'a str, String> {
        let chosen: Vec<&str> = actions.iter().copied().filter(|a| self.has(a)).collect();
        match chosen[..] {
            [action] => Ok(action),
            _ => Err(format!("give exactly one of {}", actions.join(", "))),
        }
    }

    pub fn value(&self, flag: &str) -> Option<&str> {
        self.values.get(flag).map(String::as_str)
    }

    /// Every value given to a value flag, in order (empty when it was not given): for the
    /// flags a tool takes more than once.
    pub fn values(&self, flag: &str) -> &[String] {
        self.all_values.get(flag).map_or(&[], Vec::as_slice)
    }

    /// Each occurrence of `flags` (switches or value flags) in command-line order, with its
    /// value (`None` for a switch); a flag given twice appears twice.
    pub fn sequence<'a>(
        &'a self,
        flags: &'a [&'a str],
    ) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        (self.sequence.iter())
            .filter(|(flag, _)| flags.contains(&flag.as_str()))
            .map(|(flag, value)| (flag.as_str(), value.as_deref()))
    }

    /// A value that must be present.
    pub fn required(&self, flag: &str) -> Result<&str, String> {
        self.value(flag)
            .ok_or_else(|| format!("missing required option {flag}"))
    }

    /// A value parsed as a number, if present.
    pub fn number<T: std::str::FromStr>(&self, flag: &str) -> Result<Option<T>, String> {
        self.value(flag)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("{flag} expects a number, got '{v}'"))
            })
            .transpose()
    }

    /// Every `key=value` given to a repeatable flag, in order.
    pub fn properties(&self, flag: &str) -> &[(String, String)] {
        self.properties.get(flag).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        switches: &["--list"],
        values: &["--topic", "--partitions"],
        properties: &["--property", "--config"],
    };

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_values_and_properties() {
        let a = Args::parse(
            &args(
                "--list --topic t --partitions=3 --property a=1 b=2 --config c=3 --property d=x=y",
            ),
            &SPEC,
        )
        .unwrap();
        assert!(a.has("--list"));
        assert_eq!(a.value("--topic"), Some("t"));
        assert_eq!(a.number::<i32>("--partitions").unwrap(), Some(3));
        let props: Vec<_> = a.properties("--property").to_vec();
        assert_eq!(
            props,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("d".into(), "x=y".into())
            ]
        );
        assert_eq!(a.properties("--config").len(), 1);
    }

    #[test]
    fn sequence_keeps_the_command_line_order_across_flags() {
        let a = Args::parse(
            &args("--topic a --list --partitions 1 --topic=b --list --property k=v"),
            &SPEC,
        )
        .unwrap();
        let seen: Vec<_> = a.sequence(&["--topic", "--list"]).collect();
        assert_eq!(
            seen,
            vec![
                ("--topic", Some("a")),
                ("--list", None),
                ("--topic", Some("b")),
                ("--list", None)
            ]
        );
        assert_eq!(a.sequence(&["--nope"]).count(), 0);
        assert_eq!(a.value("--topic"), Some("b"), "the last value still wins");
    }

    #[test]
    fn errors_name_the_flag() {
        assert!(Args::parse(&args("--nope"), &SPEC)
            .unwrap_err()
            .contains("--nope"));
        assert!(Args::parse(&args("--topic"), &SPEC)
            .unwrap_err()
            .contains("needs a value"));
        assert!(Args::parse(&args("--property novalue"), &SPEC)
            .unwrap_err()
            .contains("key=value"));
        assert!(Args::parse(&args("--partitions x"), &SPEC)
            .unwrap()
            .number::<i32>("--partitions")
            .is_err());
    }
}
