//! The parser: client-go's `parser.go`, scanning the same way (so templates mean what they mean to
//! kubectl), building a tree with `{range}` … `{end}` nested instead of a flat list.

use serde_json::Value;

use super::{Filter, Operator, Path, Segment, Slice, Step};

/// What is wrong with a template, and the column (counted in characters from 1) where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at column {column}")]
pub struct ParseError {
    pub problem: Problem,
    pub column: usize,
}

/// client-go's messages, and those of the checks it leaves to execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("unclosed action")]
    UnclosedAction,
    #[error("unrecognized character in action: {}", go_rune(*.0))]
    UnrecognizedCharacter(char),
    #[error("cannot parse number {0}")]
    BadNumber(String),
    #[error("unterminated array")]
    UnterminatedArray,
    #[error("invalid array index {0}")]
    BadIndex(String),
    #[error("array index {0} is not a number")]
    IndexNotANumber(String),
    #[error("unterminated filter")]
    UnterminatedFilter,
    #[error("unclosed array expect ]")]
    UnclosedFilter,
    #[error("unrecognized filter operator {0}")]
    UnknownOperator(String),
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    #[error("unquote string {0} error invalid syntax")]
    BadQuote(String),
    #[error("invalid multiple recursive descent")]
    MultipleRecursiveDescent,
    #[error("unrecognized identifier {0}")]
    UnknownIdentifier(String),
    #[error("unclosed {{range}}")]
    UnclosedRange,
    #[error("{{end}} without a {{range}}")]
    EndWithoutRange,
    #[error("{{end}} takes nothing else in its braces")]
    EndWithMore,
    #[error("{{range}} nested more than {MAX_RANGE_DEPTH} deep")]
    TooDeep,
}

/// How deep `{range}`s may nest: the evaluator recurses once per level, and no template needs more.
pub const MAX_RANGE_DEPTH: usize = 64;

/// Go's `%#U`: `U+002A '*'`.
fn go_rune(c: char) -> String {
    if c.is_control() { format!("U+{:04X}", c as u32) } else { format!("U+{:04X} '{c}'", c as u32) }
}

pub fn template(source: &str) -> Result<Vec<Segment>, ParseError> {
    let mut parser = Parser::new(source, 0);
    // The segments of each `{range}` still open, with the range's path and column.
    let mut open: Vec<(Vec<Segment>, Path, usize)> = Vec::new();
    let mut segments = Vec::new();
    loop {
        let text = parser.text();
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        if parser.at_end() {
            break;
        }
        let column = parser.column();
        parser.pos += 1; // the `{`
        let nodes = parser.action(column)?;
        match nodes.split_first() {
            Some((Node::Identifier(name, _), rest)) if name == "range" => {
                let over = steps(rest.to_vec())?;
                if open.len() == MAX_RANGE_DEPTH {
                    return Err(ParseError { problem: Problem::TooDeep, column });
                }
                open.push((std::mem::take(&mut segments), over, column));
            }
            Some((Node::Identifier(name, _), rest)) if name == "end" => {
                if !rest.is_empty() {
                    return Err(ParseError { problem: Problem::EndWithMore, column });
                }
                let (outer, over, _) = open.pop().ok_or(ParseError { problem: Problem::EndWithoutRange, column })?;
                let body = std::mem::replace(&mut segments, outer);
                segments.push(Segment::Range { over, body });
            }
            _ => segments.push(Segment::Action(steps(nodes)?)),
        }
    }
    match open.last() {
        Some((_, _, column)) => Err(ParseError { problem: Problem::UnclosedRange, column: *column }),
        None => Ok(segments),
    }
}

/// What an action holds: steps, and identifiers (`range`, `end`), which only a template's top
/// level understands.
#[derive(Debug, Clone)]
enum Node {
    Step(Step),
    Identifier(String, usize),
}

/// The steps of a path; an identifier here is one client-go would refuse when executing it.
fn steps(nodes: Vec<Node>) -> Result<Path, ParseError> {
    nodes
        .into_iter()
        .map(|node| match node {
            Node::Step(step) => Ok(step),
            Node::Identifier(name, column) => Err(ParseError { problem: Problem::UnknownIdentifier(name), column }),
        })
        .collect()
}

struct Parser {
    input: Vec<char>,
    pos: usize,
    /// Characters before `input` in the template the user wrote (for a part parsed on its own).
    origin: usize,
}

impl Parser {
    fn new(input: &str, origin: usize) -> Self {
        Self { input: input.chars().collect(), pos: 0, origin }
    }

    fn column(&self) -> usize {
        self.origin + self.pos + 1
    }

    fn error(&self, problem: Problem) -> ParseError {
        ParseError { problem, column: self.column() }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn peek(&self) -> Option<char> {
        self.input.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn starts_with(&self, prefix: &str) -> bool {
        let mut at = self.pos;
        prefix.chars().all(|c| {
            let matches = self.input.get(at) == Some(&c);
            at += 1;
            matches
        })
    }

    fn slice(&self, from: usize, to: usize) -> String {
        self.input[from..to].iter().collect()
    }

    /// Text up to the next `{` (there is no escape for it outside an action: `{"{"}` prints one).
    fn text(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| c != '{') {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    /// The inside of `{…}` up to and including its `}`; `opened` is the column of the `{`.
    fn action(&mut self, opened: usize) -> Result<Vec<Node>, ParseError> {
        let mut nodes = Vec::new();
        loop {
            if self.starts_with("}") {
                self.pos += 1;
                return Ok(nodes);
            }
            if self.starts_with("[?(") {
                let filter = self.filter()?;
                nodes.push(Node::Step(filter));
                continue;
            }
            if self.starts_with("..") {
                if matches!(nodes.last(), Some(Node::Step(Step::Recursive))) {
                    return Err(self.error(Problem::MultipleRecursiveDescent));
                }
                self.pos += 2;
                nodes.push(Node::Step(Step::Recursive));
                if self.peek().is_some_and(is_alphanumeric) {
                    nodes.push(Node::Step(self.field()));
                }
                continue;
            }
            let column = self.column();
            match self.next() {
                None | Some('\r' | '\n') => {
                    return Err(ParseError { problem: Problem::UnclosedAction, column: opened });
                }
                // `@` and `$` are the current value: the path goes on from it.
                Some(' ' | '@' | '$') => {}
                Some('[') => nodes.extend(self.array(column)?),
                Some(quote @ ('"' | '\'')) => nodes.push(Node::Step(Step::Text(self.quoted(quote, column)?))),
                Some('.') => nodes.push(Node::Step(self.field())),
                Some(c) if c == '+' || c == '-' || c.is_ascii_digit() => {
                    self.pos -= 1;
                    nodes.push(Node::Step(self.number()?));
                }
                Some(c) if is_alphanumeric(c) => {
                    self.pos -= 1;
                    nodes.push(self.identifier());
                }
                Some(c) => return Err(ParseError { problem: Problem::UnrecognizedCharacter(c), column }),
            }
        }
    }

    /// A field name after `.`, up to a terminator; `\` escapes the next character (`kubernetes\.io`).
    fn field(&mut self) -> Step {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                self.pos += 1;
                name.extend(self.next());
            } else if is_terminator(c) {
                break;
            } else {
                name.push(c);
                self.pos += 1;
            }
        }
        if name == "*" { Step::Wildcard } else { Step::Field(name) }
    }

    fn identifier(&mut self) -> Node {
        let column = self.column();
        let start = self.pos;
        while self.peek().is_some_and(|c| !is_terminator(c)) {
            self.pos += 1;
        }
        match self.slice(start, self.pos).as_str() {
            "true" => Node::Step(Step::Constant(Value::Bool(true))),
            "false" => Node::Step(Step::Constant(Value::Bool(false))),
            name => Node::Identifier(name.to_string(), column),
        }
    }

    fn number(&mut self) -> Result<Step, ParseError> {
        let column = self.column();
        let start = self.pos;
        if matches!(self.peek(), Some('+' | '-')) {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c == '.' || c.is_ascii_digit()) {
            self.pos += 1;
        }
        let text = self.slice(start, self.pos);
        if let Ok(integer) = text.parse::<i64>() {
            return Ok(Step::Constant(Value::from(integer)));
        }
        match text.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            Some(number) => Ok(Step::Constant(Value::Number(number))),
            None => Err(ParseError { problem: Problem::BadNumber(text), column }),
        }
    }

    /// `[…]` after its `[`: a union (`[a,b]`), a key (`['a.b']`), or a slice.
    fn array(&mut self, opened: usize) -> Result<Vec<Node>, ParseError> {
        let start = self.pos;
        loop {
            match self.next() {
                None | Some('\n') => return Err(ParseError { problem: Problem::UnterminatedArray, column: opened }),
                Some(']') => break,
                Some(_) => {}
            }
        }
        let inside = self.slice(start, self.pos - 1);
        let origin = self.origin + start;
        let inside = if inside == "*" { ":".to_string() } else { inside };

        if inside.contains(',') {
            let mut paths = Vec::new();
            let mut offset = 0;
            for part in inside.split(',') {
                let trimmed = part.trim_matches(' ');
                let leading = part.len() - part.trim_start_matches(' ').len();
                let column = origin + inside[..offset].chars().count() + leading;
                paths.push(steps(sub_action(&format!("[{trimmed}]"), column.saturating_sub(1))?)?);
                offset += part.len() + 1;
            }
            return Ok(vec![Node::Step(Step::Union(paths))]);
        }
        if let Some(key) = inside.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')).filter(|k| !k.contains('\'')) {
            // `['a.b']` is `.a.b`, as in client-go.
            return sub_action(&format!(".{key}"), origin);
        }
        Ok(vec![Node::Step(Step::Slice(slice(&inside).map_err(|problem| ParseError { problem, column: opened })?))])
    }

    /// `[?(left op right)]` or `[?(path)]`, scanning for the `)` outside quotes as client-go does.
    fn filter(&mut self) -> Result<Step, ParseError> {
        let opened = self.column();
        self.pos += 3;
        let start = self.pos;
        let (mut begun, mut ended, mut pair) = (false, false, '"');
        loop {
            let before = if self.pos > 0 { self.input.get(self.pos - 1).copied() } else { None };
            match self.next() {
                None | Some('\n') => return Err(ParseError { problem: Problem::UnterminatedFilter, column: opened }),
                Some(quote @ ('"' | '\'')) => {
                    if !begun {
                        (begun, pair) = (true, quote);
                    } else if before != Some('\\') && quote == pair {
                        ended = true;
                    }
                }
                Some(')') if begun == ended => break,
                Some(_) => {}
            }
        }
        if self.next() != Some(']') {
            return Err(self.error(Problem::UnclosedFilter));
        }
        let inside = self.slice(start, self.pos - 2);
        let origin = self.origin + start;
        let filter = match split_comparison(&inside) {
            None => Filter { left: steps(sub_action(&inside, origin)?)?, comparison: None },
            Some((left, operator, right)) => {
                let operator = match operator {
                    "==" => Operator::Equal,
                    "!=" => Operator::NotEqual,
                    "<" => Operator::Less,
                    "<=" => Operator::LessEqual,
                    ">" => Operator::Greater,
                    ">=" => Operator::GreaterEqual,
                    other => {
                        let column = origin + left.chars().count() + 1;
                        return Err(ParseError { problem: Problem::UnknownOperator(other.into()), column });
                    }
                };
                let right_origin = origin + left.chars().count() + operator_len(operator);
                Filter {
                    left: steps(sub_action(left, origin)?)?,
                    comparison: Some((operator, steps(sub_action(right, right_origin)?)?)),
                }
            }
        };
        Ok(Step::Filter(Box::new(filter)))
    }

    /// A quoted string after its opening quote, unquoted as Go's `strconv.Unquote` would (single
    /// quotes too).
    fn quoted(&mut self, quote: char, opened: usize) -> Result<String, ParseError> {
        let start = self.pos;
        loop {
            let before = self.input.get(self.pos.wrapping_sub(1)).copied();
            match self.next() {
                None | Some('\n') => return Err(ParseError { problem: Problem::UnterminatedQuote, column: opened }),
                Some(c) if c == quote && before != Some('\\') => break,
                Some(_) => {}
            }
        }
        let inside = self.slice(start, self.pos - 1);
        unquote(&inside, quote)
            .ok_or_else(|| ParseError { problem: Problem::BadQuote(format!("{quote}{inside}{quote}")), column: opened })
    }
}

fn operator_len(operator: Operator) -> usize {
    match operator {
        Operator::Less | Operator::Greater => 1,
        _ => 2,
    }
}

/// Part of a template parsed as an action of its own (client-go's `parseAction`), its columns
/// counted from `origin`.
fn sub_action(text: &str, origin: usize) -> Result<Vec<Node>, ParseError> {
    let mut parser = Parser::new(&format!("{text}}}"), origin);
    parser.action(origin + 1)
}

/// `^([^!<>=]+)([!<>=~]+)(.+?)$`: the left side, the operator and the right side of a filter.
fn split_comparison(text: &str) -> Option<(&str, &str, &str)> {
    let left_end = text.find(['!', '<', '>', '='])?;
    if left_end == 0 {
        return None;
    }
    let rest = &text[left_end..];
    let mut operator_end = rest.find(|c: char| !"!<>=~".contains(c)).unwrap_or(rest.len());
    // The regular expression backtracks so that the right side is never empty.
    if operator_end == rest.len() {
        operator_end -= 1;
        if operator_end == 0 {
            return None;
        }
    }
    Some((&text[..left_end], &rest[..operator_end], &rest[operator_end..]))
}

/// `^(-?\d*)(:-?\d*)?(:-?\d*)?$` read as client-go reads it.
fn slice(text: &str) -> Result<Slice, Problem> {
    let parts: Vec<&str> = text.split(':').collect();
    let well_formed = |part: &&str| part.strip_prefix('-').unwrap_or(part).chars().all(|c| c.is_ascii_digit());
    if parts.len() > 3 || !parts.iter().all(well_formed) {
        return Err(Problem::BadIndex(text.to_string()));
    }
    let number = |part: &str| -> Result<Option<i64>, Problem> {
        if part.is_empty() {
            return Ok(None);
        }
        part.parse().map(Some).map_err(|_| Problem::IndexNotANumber(part.to_string()))
    };
    let start = number(parts[0])?;
    let (end, end_derived) = match parts.get(1) {
        // `[i]` is `[i:i+1]`.
        None => (Some(start.unwrap_or(0).saturating_add(1)), true),
        Some(part) => (number(part)?, false),
    };
    let step = match parts.get(2) {
        Some(part) => number(part)?,
        None => None,
    };
    Ok(Slice { start, end, end_derived, step })
}

/// Go's `strconv.UnquoteChar` over the inside of a quoted string; `None` when it is not valid.
fn unquote(inside: &str, quote: char) -> Option<String> {
    let mut out = String::new();
    let mut chars = inside.chars();
    while let Some(c) = chars.next() {
        if c == quote {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = chars.next()?;
        let mut code = |digits: usize, radix: u32| -> Option<u32> {
            let text: String = chars.by_ref().take(digits).collect();
            if text.chars().count() != digits {
                return None;
            }
            u32::from_str_radix(&text, radix).ok()
        };
        let decoded = match escaped {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\\' => '\\',
            '\'' | '"' if escaped == quote => escaped,
            'x' => char::from_u32(code(2, 16)?)?,
            'u' => char::from_u32(code(4, 16)?)?,
            'U' => char::from_u32(code(8, 16)?)?,
            '0'..='7' => {
                let rest = code(2, 8)?;
                let value = escaped.to_digit(8)? * 64 + rest;
                if value > 255 {
                    return None;
                }
                char::from_u32(value)?
            }
            _ => return None,
        };
        out.push(decoded);
    }
    Some(out)
}

/// What may end a field name or an identifier.
fn is_terminator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}')
}

fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(source: &str) -> (String, usize) {
        let error = template(source).unwrap_err();
        (error.problem.to_string(), error.column)
    }

    #[test]
    fn client_go_refuses_these_and_so_do_we() {
        // parser_test.go's TestFailParser, with the column of the trouble.
        assert_eq!(problem("{.hello"), ("unclosed action".into(), 1));
        assert_eq!(problem("{*}"), ("unrecognized character in action: U+002A '*'".into(), 2));
        assert_eq!(problem("{+12.3.0}"), ("cannot parse number +12.3.0".into(), 2));
        assert_eq!(problem("{[1}"), ("unterminated array".into(), 2));
        assert_eq!(problem("{[?(.price]}"), ("unterminated filter".into(), 2));
        assert_eq!(problem("{........}"), ("invalid multiple recursive descent".into(), 4));
        assert!(template(r"{\\\}").is_err());
    }

    #[test]
    fn ranges_must_be_closed_and_ends_opened() {
        assert_eq!(problem("{.kind} {range .items[*]}{.x}"), ("unclosed {range}".into(), 9));
        assert_eq!(problem("{range .a[*]}{end}{end}"), ("{end} without a {range}".into(), 19));
        assert_eq!(problem("{hello}"), ("unrecognized identifier hello".into(), 2));
        assert_eq!(problem("{.Book[?(@.Price<>10)]}"), ("unrecognized filter operator <>".into(), 17));
        assert_eq!(problem("{[a-b]}"), ("invalid array index a-b".into(), 2));
        assert_eq!(problem("{[-]}"), ("array index - is not a number".into(), 2));
        assert_eq!(problem(r#"{"\q"}"#), (r#"unquote string "\q" error invalid syntax"#.into(), 2));
        assert_eq!(problem("{'abc}"), ("unterminated quoted string".into(), 2));
        assert_eq!(problem("{end .x}"), ("{end} takes nothing else in its braces".into(), 1));
        let deep = format!("{}{}", "{range}".repeat(MAX_RANGE_DEPTH + 1), "{end}".repeat(MAX_RANGE_DEPTH + 1));
        assert_eq!(problem(&deep), ("{range} nested more than 64 deep".into(), 7 * MAX_RANGE_DEPTH + 1));
        let fine = format!("{}{}", "{range}".repeat(MAX_RANGE_DEPTH), "{end}".repeat(MAX_RANGE_DEPTH));
        assert!(template(&fine).is_ok());
    }

    #[test]
    fn trees_read_like_client_gos_nodes() {
        let field = |name: &str| Step::Field(name.into());
        let action = |steps: Vec<Step>| vec![Segment::Action(steps)];
        assert_eq!(template("hello jsonpath").unwrap(), [Segment::Text("hello jsonpath".into())]);
        assert_eq!(template("{['jsonpath']}").unwrap(), action(vec![field("jsonpath")]));
        assert_eq!(template(r#"{"{"}"#).unwrap(), action(vec![Step::Text("{".into())]));
        assert_eq!(
            template("{[1:3]}").unwrap(),
            action(vec![Step::Slice(Slice { start: Some(1), end: Some(3), end_derived: false, step: None })])
        );
        assert_eq!(
            template("{[-1]}").unwrap(),
            action(vec![Step::Slice(Slice { start: Some(-1), end: Some(0), end_derived: true, step: None })])
        );
        assert_eq!(template("{.bicycle.*}").unwrap(), action(vec![field("bicycle"), Step::Wildcard]));
        assert_eq!(template("{..price}").unwrap(), action(vec![Step::Recursive, field("price")]));
        assert_eq!(template("{['book.price']}").unwrap(), action(vec![field("book"), field("price")]));
        assert_eq!(
            template(r"{.metadata.labels.kubernetes\.io/hostname}").unwrap(),
            action(vec![field("metadata"), field("labels"), field("kubernetes.io/hostname")])
        );
        assert_eq!(
            template("{[?(@.price<3)]}").unwrap(),
            action(vec![Step::Filter(Box::new(Filter {
                left: vec![field("price")],
                comparison: Some((Operator::Less, vec![Step::Constant(Value::from(3))])),
            }))])
        );
        assert_eq!(
            template("{['bicycle.price', 3, 'book.price']}").unwrap(),
            action(vec![Step::Union(vec![
                vec![field("bicycle"), field("price")],
                vec![Step::Slice(Slice { start: Some(3), end: Some(4), end_derived: true, step: None })],
                vec![field("book"), field("price")],
            ])])
        );
        assert_eq!(
            template("{range .items}{.name},{end}").unwrap(),
            [Segment::Range {
                over: vec![field("items")],
                body: vec![Segment::Action(vec![field("name")]), Segment::Text(",".into())],
            }]
        );
    }

    #[test]
    fn quotes_inside_filters_hide_parentheses() {
        // parser_test.go: the right side of each comparison, as text.
        for (source, right) in [
            (r#"{[?(@.status.nodeInfo.osImage == "()")]}"#, "()"),
            (r#"{[?(@.status.nodeInfo.osImage == "(\"\")")]}"#, r#"("")"#),
            (r#"{[?(@.test == "())(")]}"#, "())("),
            ("{[?(@.status.nodeInfo.osImage == 'Linux')]}", "Linux"),
            (r#"{[?(@.status.nodeInfo.osImage == "{[()]}")]}"#, "{[()]}"),
            (r#"{[?(@.status.nodeInfo.osImage == "''")]}"#, "''"),
            (r#"{[?(@.status.nodeInfo.osImage == '""')]}"#, "\"\""),
            (r"{[?(@.status.nodeInfo.osImage == '\\\'')]}", r"\'"),
        ] {
            let parsed = template(source).unwrap_or_else(|e| panic!("{source}: {e}"));
            let [Segment::Action(steps)] = parsed.as_slice() else { panic!("{source}: {parsed:?}") };
            let [Step::Filter(filter)] = steps.as_slice() else { panic!("{source}: {steps:?}") };
            assert_eq!(filter.comparison.as_ref().unwrap().1, [Step::Text(right.into())], "{source}");
        }
    }

    #[test]
    fn quoted_literals_unquote_like_go() {
        assert_eq!(unquote(r"a\tb\n", '"').as_deref(), Some("a\tb\n"));
        assert_eq!(unquote(r"\x41\u00e9\101", '"').as_deref(), Some("AéA"));
        assert_eq!(unquote(r"it\'s", '\''), Some("it's".into()));
        assert_eq!(unquote(r#"\""#, '\''), None);
        assert_eq!(unquote(r"\777", '"'), None);
        assert_eq!(unquote(r"\u12", '"'), None);
    }
}
