//! A look at manifest text before the YAML parser gets it. The parser (libyaml's, through
//! serde_norway) refuses nesting deeper than 128 levels, but only after scanning the whole
//! document, in time that grows with the square of the flow nesting: 30,000 `[` took 17 s.
//! Counting brackets first answers such input at once; and a document larger than the API server
//! takes is refused before seconds go into parsing it.

/// The largest request body the API server reads (its `MaxRequestBodyBytes`): no larger document
/// could be applied.
pub const MAX_DOCUMENT_BYTES: usize = 3 * 1024 * 1024;

/// Flow nesting (`[`, `{`) deeper than this is refused before parsing: far beyond the parser's
/// own limit of 128, so brackets counted in plain or block scalars never refuse a real manifest,
/// and shallow enough that parsing up to it takes milliseconds.
pub const MAX_FLOW_DEPTH: usize = 1000;

/// Where manifest text nests deeper than [`MAX_FLOW_DEPTH`]: its line (from 1), if it does.
pub fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1;
    let mut previous = '\n';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let at_token_start = previous.is_whitespace() || matches!(previous, '[' | '{' | ',' | ':');
        match c {
            '\n' => line += 1,
            '#' if previous.is_whitespace() => while chars.next_if(|&c| c != '\n').is_some() {},
            '"' if at_token_start => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '\n' => line += 1,
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' if at_token_start => {
                while let Some(c) = chars.next() {
                    match c {
                        '\'' if chars.next_if_eq(&'\'').is_none() => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some(line);
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    None
}

/// The first document (from 1) larger than [`MAX_DOCUMENT_BYTES`], if any.
/// Documents are split at `---` lines, as YAML splits them.
pub fn oversized(text: &str) -> Option<usize> {
    let mut document = 1;
    let mut size = 0;
    for line in text.split_inclusive('\n') {
        let marker =
            line.strip_prefix("---").is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace));
        if marker && size > 0 {
            document += 1;
            size = 0;
        }
        size += line.len();
        if size > MAX_DOCUMENT_BYTES {
            return Some(document);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_found_on_its_line() {
        let deep = format!("a: 1\nb: {}{}\n", "[".repeat(MAX_FLOW_DEPTH + 1), "]".repeat(MAX_FLOW_DEPTH + 1));
        assert_eq!(too_deep(&deep), Some(2));
        let mappings = format!("a: {}\n", "{a: ".repeat(MAX_FLOW_DEPTH + 1));
        assert_eq!(too_deep(&mappings), Some(1));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let many = "[".repeat(MAX_FLOW_DEPTH + 1);
        for text in [
            format!("a: \"{many}\"\n"),
            format!("a: '{many}'\n"),
            format!("a: 'it''s {many}'\n"),
            format!("a: \"\\\" {many}\"\n"),
            format!("# {many}\na: 1\n"),
            format!("a: 1 # {many}\n"),
        ] {
            assert_eq!(too_deep(&text), None, "{text}");
        }
    }

    #[test]
    fn a_document_larger_than_the_api_server_takes_is_found() {
        let small = "a: 1\n";
        let large = format!("data: {}\n", "x".repeat(MAX_DOCUMENT_BYTES));
        assert_eq!(oversized(&format!("{small}---\n{small}---\n{large}")), Some(3));
        assert_eq!(oversized(&large), Some(1));
        let many_small = format!("{small}---\n").repeat(MAX_DOCUMENT_BYTES / 4);
        assert_eq!(oversized(&many_small), None);
    }

    #[test]
    fn ordinary_manifests_pass() {
        let manifest = "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: a, labels: {x: 'y'}}\n\
                        spec:\n  instructions: |\n    Don't [guess]; it's {fine}.\n  env: [{name: A, value: \"[\"}]\n";
        assert_eq!(too_deep(manifest), None);
        let balanced = format!("a: {}{}\n", "[".repeat(MAX_FLOW_DEPTH), "]".repeat(MAX_FLOW_DEPTH));
        assert_eq!(too_deep(&balanced), None);
    }
}
