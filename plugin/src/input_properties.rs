//! Property tests of what users type: any manifest text and any command line is answered with a
//! value or an error, never a panic. Bounded (a fixed number of cases each) so they
//! run in CI's default `cargo test`.

use clap::Parser;
use proptest::prelude::*;

use crate::cli::Cli;
use crate::commands::apply::parse as parse_manifests;
use crate::flags::{LONGEST_DURATION, parse_duration, parse_namespace};
use crate::yaml_guard;

/// Words a command line is made of: commands, flags, and values good and bad.
const WORDS: &[&str] = &[
    "get",
    "create",
    "agent",
    "apply",
    "delete",
    "logs",
    "describe",
    "invoke",
    "scale",
    "build",
    "workflow",
    "run",
    "-n",
    "--namespace",
    "-o",
    "json",
    "yaml",
    "wide",
    "jsonpath={.items[*]}",
    "custom-columns=N:.metadata.name",
    "--sort-by",
    ".metadata.name",
    "--timeout",
    "--since",
    "--request-timeout",
    "1h30m",
    "-5s",
    "99999999999999h",
    "1e400",
    "NaN",
    "--replicas",
    "-1",
    "2147483648",
    "--dry-run=client",
    "--image",
    "x:1",
    "--model",
    "m",
    "-f",
    "-",
    "--",
    "",
    "Team_A",
    "a",
    "--tail",
    "-l",
    "app=x",
    "--context-id",
    "\u{0}",
    "é",
    "--no-headers",
    "-A",
];

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_duration_text_is_a_bounded_duration_or_an_error(text in ".{0,24}") {
        if let Ok(duration) = parse_duration(&text) {
            prop_assert!(duration <= LONGEST_DURATION);
        }
    }

    #[test]
    fn any_namespace_text_is_a_dns_label_or_an_error(text in ".{0,80}") {
        if let Ok(namespace) = parse_namespace(&text) {
            prop_assert!(namespace.len() <= 63 && !namespace.starts_with('-'));
        }
    }

    #[test]
    fn any_command_line_parses_or_is_refused(words in prop::collection::vec(prop::sample::select(WORDS), 0..10)) {
        let _ = Cli::try_parse_from(std::iter::once("kubectl-agents").chain(words.iter().copied()));
    }

    #[test]
    fn any_text_is_manifests_or_an_error(text in "(?s).{0,400}") {
        let _ = parse_manifests(&text, "stdin");
    }

    #[test]
    fn any_nesting_is_manifests_or_an_error(opening in "[\\[{ a:,\"'#\n]{0,3000}") {
        let text = format!("a: {opening}");
        let _ = yaml_guard::too_deep(&text);
        let _ = yaml_guard::oversized(&text);
        let _ = parse_manifests(&text, "stdin");
    }
}
