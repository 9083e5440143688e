//! kubectl's JSONPath templates (`-o jsonpath=…`, `-o custom-columns=…`, `--sort-by=…`), the dialect
//! of k8s.io/client-go/util/jsonpath rather than RFC 9535: text with `{…}` actions in it, `{range …}`
//! … `{end}` loops, quoted literals, and results printed the way kubectl prints them (strings raw,
//! other values as JSON, several results joined by a space).
//!
//! [`Template::parse`] turns the text into a small tree ([`Segment`]s of [`Step`]s), reporting the
//! column of what is wrong; [`Template::render`] walks a `serde_json::Value` with it. Where client-go
//! only fails while executing (an `{end}` without a `{range}`, an unknown identifier or filter
//! operator), this parser refuses the template up front.

mod eval;
mod parse;
#[cfg(test)]
mod tests;
mod text;

use std::borrow::Cow;

use serde_json::Value;

pub use eval::EvalError;
pub use parse::ParseError;
pub use text::go_sprint;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    segments: Vec<Segment>,
}

/// A piece of a template: text printed as it is, an action's results, or a loop.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Text(String),
    /// `{.a.b}`: the results of a path, printed.
    Action(Path),
    /// `{range .items[*]}…{end}`: the body once for each result of the path, with that result as `@`.
    Range {
        over: Path,
        body: Vec<Segment>,
    },
}

/// The steps of one action, each applied to every value the previous one produced.
type Path = Vec<Step>;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.name`: that key of each object.
    Field(String),
    /// `.*` or `[*]` on an object: every value.
    Wildcard,
    /// `..`: each value and everything below it.
    Recursive,
    /// `[i]`, `[start:end:step]`, `[*]` on an array.
    Slice(Slice),
    /// `[a,b]`: the results of each path, one after the other.
    Union(Vec<Path>),
    /// `[?(@.x == "y")]`, `[?(@.x)]`: the elements of an array that pass.
    Filter(Box<Filter>),
    /// `"text"` or `'text'`: one string, whatever the input.
    Text(String),
    /// `3`, `2.5`, `true`: the constant once for each input (the right side of a comparison).
    Constant(Value),
}

/// client-go's slice parameters: each bound may be absent, and `[i]` is `[i:i+1]` with the end
/// marked as derived (so `[-1]` becomes the last element).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Slice {
    start: Option<i64>,
    end: Option<i64>,
    end_derived: bool,
    step: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    left: Path,
    /// `None`: the element passes when `left` finds anything.
    comparison: Option<(Operator, Path)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
}

/// How a template is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// A field that is not there yields nothing instead of an error (kubectl's
    /// `--allow-missing-template-keys`, true by default).
    pub allow_missing_keys: bool,
    /// Each action's results as one indented JSON array (`-o jsonpath-as-json=…`).
    pub as_json: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { allow_missing_keys: true, as_json: false }
    }
}

/// An expression kubectl's `custom-columns` and `--sort-by` do not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unexpected path string {0:?}, expected a 'name1.name2' or '.name1.name2' or '{{name1.name2}}' or \
         '{{.name1.name2}}'"
)]
pub struct RelaxedError(String);

/// A template that could not be used: which one, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error("error parsing jsonpath {template:?}: {error}")]
    Parse { template: String, error: ParseError },
    #[error(transparent)]
    Relaxed(#[from] RelaxedError),
}

impl Template {
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        Ok(Self { source: source.to_string(), segments: parse::template(source)? })
    }

    /// A template as `custom-columns` and `--sort-by` take one: `name1.name2`, `.name1.name2`,
    /// `{name1.name2}` and `{.name1.name2}` all mean `{.name1.name2}` (kubectl's
    /// `RelaxedJSONPathExpression`).
    pub fn relaxed(expression: &str) -> Result<Self, TemplateError> {
        let source = relaxed_source(expression)?;
        Self::parse(&source).map_err(|error| TemplateError::Parse { template: source, error })
    }

    /// The text the template was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The template executed on `data`, as kubectl prints it.
    pub fn render(&self, data: &Value, options: Options) -> Result<String, EvalError> {
        let mut out = String::new();
        eval::Evaluator { options }.render(&self.segments, data, &mut out)?;
        Ok(out)
    }

    /// Every value the template's actions find in `data`, in order (text between actions
    /// included), for `custom-columns` and `--sort-by`; missing fields find nothing.
    pub fn find<'a>(&self, data: &'a Value) -> Result<Vec<Cow<'a, Value>>, EvalError> {
        let mut found = Vec::new();
        eval::Evaluator { options: Options::default() }.find(&self.segments, data, &mut found)?;
        Ok(found)
    }
}

/// kubectl's `RelaxedJSONPathExpression`: `^\{\.?([^{}]+)\}$|^\.?([^{}]+)$` made `{.$1}`.
fn relaxed_source(expression: &str) -> Result<String, RelaxedError> {
    if expression.is_empty() {
        return Ok(String::new());
    }
    let inner = expression.strip_prefix('{').and_then(|e| e.strip_suffix('}')).unwrap_or(expression);
    // The optional dot is only taken off when something is left (`.` alone is the field spec `.`).
    let field = inner.strip_prefix('.').filter(|f| !f.is_empty()).unwrap_or(inner);
    if field.is_empty() || field.contains(['{', '}']) {
        return Err(RelaxedError(expression.to_string()));
    }
    Ok(format!("{{.{field}}}"))
}
