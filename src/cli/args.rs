//! The client tools' flags, in the style of Kafka's shell tools — `--flag value`,
//! `--flag=value`, switches, and repeatable `key=value` flags that also take several pairs after
//! one flag (`--property print.key=true print.offset=true`) — declared once per tool as a
//! [`Spec`] and parsed by clap ([`Spec::command`]), which also makes the shell completions
//! (`rill completions`) and suggests the closest flag for a typo.
//!
//! The tools are declared as tables rather than clap's derive structs: a tool's flags are
//! Kafka's (dots and all) and its modes are switches Kafka's tools check by hand (`--list`,
//! `--describe`, …), so one table per tool is the whole declaration and clap the whole parser.

use std::collections::{BTreeMap, BTreeSet};

use clap::{Arg, ArgAction, Command};

/// The flags one tool accepts.
pub struct Spec {
    /// Flags without a value.
    pub switches: &'static [&'static str],
    /// Flags with exactly one value (the last one given wins).
    pub values: &'static [&'static str],
    /// Repeatable flags taking `key=value` pairs.
    pub properties: &'static [&'static str],
}

/// clap's error without its usage lines (the tool prints its own usage after it).
fn clap_message(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let kept: Vec<&str> = (rendered.lines())
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .collect();
    kept.join("\n")
        .trim()
        .trim_start_matches("error: ")
        .to_string()
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

impl Spec {
    /// The tool's flags as a clap command named `name` (no binary name: the arguments after
    /// the tool's name). Flags keep Kafka's spelling, dots included (`--producer.config`).
    /// `--help` is the tool's own (its usage text, which explains Kafka's semantics), so clap's
    /// help flag is off here.
    pub fn command(&self, name: &'static str) -> Command {
        let long = |flag: &'static str| flag.trim_start_matches("--");
        let mut command = Command::new(name)
            .no_binary_name(true)
            .disable_help_flag(true)
            .disable_version_flag(true)
            .dont_collapse_args_in_usage(true);
        for &flag in self.switches {
            // Appended (not counted) so each occurrence keeps its position.
            command = command.arg(
                Arg::new(flag)
                    .long(long(flag))
                    .action(ArgAction::Append)
                    .num_args(0)
                    .default_missing_value(""),
            );
        }
        for &flag in self.values {
            command = command.arg(
                Arg::new(flag)
                    .long(long(flag))
                    .action(ArgAction::Append)
                    .num_args(1)
                    .value_name("VALUE")
                    // `--shift-by -2`, `--offset -1`: a value may start with a dash.
                    .allow_hyphen_values(true),
            );
        }
        for &flag in self.properties {
            command = command.arg(
                Arg::new(flag)
                    .long(long(flag))
                    .action(ArgAction::Append)
                    .num_args(1..)
                    .value_name("KEY=VALUE")
                    .value_parser(key_value),
            );
        }
        command
    }
}

/// A `key=value` pair's check (the value may hold `=` itself).
fn key_value(pair: &str) -> Result<String, String> {
    match pair.split_once('=') {
        Some((key, _)) if !key.is_empty() => Ok(pair.to_string()),
        _ => Err(format!("expects key=value, got '{pair}'")),
    }
}

impl Args {
    /// Parses a tool's arguments with clap (its errors name the flag and suggest the closest
    /// one for a typo).
    pub fn parse(args: &[String], spec: &Spec) -> Result<Self, String> {
        Self::parse_as("rill", args, spec)
    }

    /// [`Args::parse`], the errors naming the command `name`.
    pub fn parse_as(name: &'static str, args: &[String], spec: &Spec) -> Result<Self, String> {
        let matches = (spec.command(name))
            .try_get_matches_from(args)
            .map_err(|error| clap_message(&error))?;
        let mut parsed = Args::default();
        // Every occurrence with its position, to keep the command line's order across flags.
        let mut seen: Vec<(usize, String, Option<String>)> = Vec::new();
        for &flag in spec.switches {
            if matches.contains_id(flag) {
                parsed.switches.insert(flag.to_string());
                for at in matches.indices_of(flag).into_iter().flatten() {
                    seen.push((at, flag.to_string(), None));
                }
            }
        }
        for &flag in spec.values {
            let values: Vec<&String> = matches
                .get_many::<String>(flag)
                .into_iter()
                .flatten()
                .collect();
            let at: Vec<usize> = matches.indices_of(flag).into_iter().flatten().collect();
            for (value, at) in values.iter().zip(at) {
                seen.push((at, flag.to_string(), Some((*value).clone())));
            }
            if let Some(last) = values.last() {
                parsed.values.insert(flag.to_string(), (*last).clone());
                parsed
                    .all_values
                    .insert(flag.to_string(), values.into_iter().cloned().collect());
            }
        }
        for &flag in spec.properties {
            let pairs = matches.get_many::<String>(flag).into_iter().flatten();
            let list: Vec<(String, String)> = pairs
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if !list.is_empty() {
                parsed.properties.insert(flag.to_string(), list);
            }
        }
        seen.sort_by_key(|(at, _, _)| *at);
        parsed.sequence = seen
            .into_iter()
            .map(|(_, flag, value)| (flag, value))
            .collect();
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
        let missing = Args::parse(&args("--topic"), &SPEC).unwrap_err();
        assert!(
            missing.contains("--topic") && missing.contains("value"),
            "{missing}"
        );
        assert!(Args::parse(&args("--property novalue"), &SPEC)
            .unwrap_err()
            .contains("key=value"));
        assert!(Args::parse(&args("--partitions x"), &SPEC)
            .unwrap()
            .number::<i32>("--partitions")
            .is_err());
        // A switch given a value, and a negative value taken as a value.
        assert!(Args::parse(&args("--list=yes"), &SPEC).is_err());
        let negative = Args::parse(&args("--partitions -2"), &SPEC).unwrap();
        assert_eq!(negative.number::<i32>("--partitions").unwrap(), Some(-2));
    }

    #[test]
    fn a_typo_is_answered_with_the_closest_flag() {
        let error = Args::parse(&args("--topc t"), &SPEC).unwrap_err();
        assert!(error.contains("'--topc'"), "{error}");
        assert!(error.contains("--topic"), "{error}");
        assert!(!error.contains("Usage:"), "{error}");
    }

    #[test]
    fn kafkas_dotted_flags_parse() {
        const DOTTED: Spec = Spec {
            switches: &[],
            values: &["--producer.config"],
            properties: &["--producer-property"],
        };
        let a = Args::parse(
            &args("--producer.config p.properties --producer-property acks=all linger.ms=5"),
            &DOTTED,
        )
        .unwrap();
        assert_eq!(a.value("--producer.config"), Some("p.properties"));
        assert_eq!(a.properties("--producer-property").len(), 2);
    }
}
