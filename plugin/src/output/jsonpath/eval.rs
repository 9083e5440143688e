//! The evaluator: client-go's `jsonpath.go` over `serde_json::Value` (the unstructured objects
//! kubectl hands its printers), with the same results and the same errors.

use std::borrow::Cow;

use serde_json::Value;

use super::text;
use super::{Filter, Operator, Options, Path, Segment, Slice, Step};

/// client-go's messages for a template that cannot be executed on the data it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("{0} is not found")]
    NotFound(String),
    #[error("{0} is not array or slice")]
    NotAnArray(&'static str),
    #[error("{0} is not array or slice and cannot be filtered")]
    NotFilterable(String),
    #[error("array index out of bounds: index {index}, length {length}")]
    OutOfBounds { index: i64, length: usize },
    #[error("starting index {start} is greater than ending index {end}")]
    StartAfterEnd { start: i64, end: i64 },
    #[error("step must be > 0")]
    StepNotPositive,
    #[error("can only compare one element at a time")]
    CompareMany,
    #[error("invalid type for comparison")]
    BadComparisonType,
    #[error("incompatible types for comparison")]
    IncompatibleTypes,
}

/// Values found so far: borrowed from the data, or made by the template (literals).
type Values<'a> = Vec<Cow<'a, Value>>;

pub struct Evaluator {
    pub options: Options,
}

impl Evaluator {
    pub fn render(&self, segments: &[Segment], data: &Value, out: &mut String) -> Result<(), EvalError> {
        for segment in segments {
            match segment {
                // Text is a result like any other (`jsonpath-as-json` prints it as an array too).
                Segment::Text(literal) => self.print(&[Cow::Owned(Value::String(literal.clone()))], out),
                Segment::Action(path) => self.print(&self.path(path, &[Cow::Borrowed(data)])?, out),
                Segment::Range { over, body } => {
                    for item in self.path(over, &[Cow::Borrowed(data)])? {
                        self.render(body, &item, out)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Every result of every segment, in order (client-go's `FindResults`, flattened).
    pub fn find<'a>(&self, segments: &[Segment], data: &'a Value, found: &mut Values<'a>) -> Result<(), EvalError> {
        for segment in segments {
            match segment {
                Segment::Text(literal) => found.push(Cow::Owned(Value::String(literal.clone()))),
                Segment::Action(path) => found.extend(self.path(path, &[Cow::Borrowed(data)])?),
                Segment::Range { over, body } => {
                    for item in self.path(over, &[Cow::Borrowed(data)])? {
                        match item {
                            Cow::Borrowed(item) => self.find(body, item, found)?,
                            Cow::Owned(item) => {
                                let mut inner = Vec::new();
                                self.find(body, &item, &mut inner)?;
                                found.extend(inner.into_iter().map(|v| Cow::Owned(v.into_owned())));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// One action's results: separated by a space, strings raw and the rest as JSON; or, as JSON
    /// output, all of them as one indented array.
    fn print(&self, results: &[Cow<'_, Value>], out: &mut String) {
        if self.options.as_json {
            let array = Value::Array(results.iter().map(|r| r.as_ref().clone()).collect());
            text::json(&array, Some("    "), out);
            out.push('\n');
            return;
        }
        for (i, result) in results.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            text::result(result, out);
        }
    }

    fn path<'a>(&self, path: &Path, input: &[Cow<'a, Value>]) -> Result<Values<'a>, EvalError> {
        let mut values = input.to_vec();
        for step in path {
            values = self.step(step, &values)?;
        }
        Ok(values)
    }

    fn step<'a>(&self, step: &Step, input: &[Cow<'a, Value>]) -> Result<Values<'a>, EvalError> {
        match step {
            Step::Field(name) => self.field(name, input),
            Step::Wildcard => Ok(input.iter().flat_map(children).collect()),
            Step::Recursive => Ok(recursive(input)),
            Step::Slice(slice) => {
                let mut found = Vec::new();
                for value in input {
                    found.extend(elements(value, slice)?);
                }
                Ok(found)
            }
            Step::Union(paths) => {
                let mut found = Vec::new();
                for path in paths {
                    found.extend(self.path(path, input)?);
                }
                Ok(found)
            }
            Step::Filter(filter) => self.filter(filter, input),
            Step::Text(literal) => Ok(vec![Cow::Owned(Value::String(literal.clone()))]),
            Step::Constant(constant) => Ok(input.iter().map(|_| Cow::Owned(constant.clone())).collect()),
        }
    }

    fn field<'a>(&self, name: &str, input: &[Cow<'a, Value>]) -> Result<Values<'a>, EvalError> {
        // No input, no output, and no complaint (an empty list's items have no names).
        if input.is_empty() {
            return Ok(Vec::new());
        }
        let found: Values<'a> =
            input.iter().flat_map(|value| select(value, |v| v.get(name).into_iter().collect())).collect();
        if found.is_empty() && !self.options.allow_missing_keys {
            return Err(EvalError::NotFound(name.to_string()));
        }
        Ok(found)
    }

    fn filter<'a>(&self, filter: &Filter, input: &[Cow<'a, Value>]) -> Result<Values<'a>, EvalError> {
        let mut passed = Vec::new();
        for value in input {
            if !value.is_array() {
                return Err(EvalError::NotFilterable(text::go_sprint(value)));
            }
            for element in select(value, |v| v.as_array().map(|a| a.iter().collect()).unwrap_or_default()) {
                let element = [element];
                let lefts = self.path(&filter.left, &element);
                let Some((operator, right)) = &filter.comparison else {
                    // An existence test ignores what went wrong looking.
                    if lefts.is_ok_and(|found| !found.is_empty()) {
                        passed.extend(element);
                    }
                    continue;
                };
                let Some(left) = single(lefts?)? else { continue };
                let Some(right) = single(self.path(right, &element)?)? else { continue };
                if compare(*operator, &left, &right)? {
                    passed.extend(element);
                }
            }
        }
        Ok(passed)
    }
}

/// The one value a side of a comparison found, if any.
fn single(mut found: Values<'_>) -> Result<Option<Cow<'_, Value>>, EvalError> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(EvalError::CompareMany),
    }
}

/// Values picked from inside `value`, borrowed as long as it is.
fn select<'a>(value: &Cow<'a, Value>, pick: impl for<'v> Fn(&'v Value) -> Vec<&'v Value>) -> Values<'a> {
    match value {
        Cow::Borrowed(value) => pick(value).into_iter().map(Cow::Borrowed).collect(),
        Cow::Owned(value) => pick(value).into_iter().map(|v| Cow::Owned(v.clone())).collect(),
    }
}

/// What `*` finds in a value: an object's values, an array's elements, a string's bytes (Go
/// indexes a string by byte).
fn children<'a>(value: &Cow<'a, Value>) -> Values<'a> {
    match value.as_ref() {
        Value::String(s) => s.bytes().map(|b| Cow::Owned(Value::from(b))).collect(),
        _ => select(value, |v| match v {
            Value::Object(map) => map.values().collect(),
            Value::Array(items) => items.iter().collect(),
            _ => Vec::new(),
        }),
    }
}

/// `..`: each value that has something inside it, then what is inside, depth first.
fn recursive<'a>(input: &[Cow<'a, Value>]) -> Values<'a> {
    let mut found = Vec::new();
    for value in input {
        match value.as_ref() {
            // A string's bytes have nothing inside them: the string is all `..` keeps.
            Value::String(s) if !s.is_empty() => found.push(value.clone()),
            Value::Object(_) | Value::Array(_) => {
                let inside = children(value);
                if !inside.is_empty() {
                    found.push(value.clone());
                    found.extend(recursive(&inside));
                }
            }
            _ => {}
        }
    }
    found
}

/// `[start:end:step]` of an array, with client-go's bounds and errors.
fn elements<'a>(value: &Cow<'a, Value>, slice: &Slice) -> Result<Values<'a>, EvalError> {
    let items = match value.as_ref() {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(EvalError::NotAnArray(text::go_type(other))),
    };
    let length = items.len();
    let len = i64::try_from(length).unwrap_or(i64::MAX);
    let mut start = slice.start.unwrap_or(0);
    if start < 0 {
        start = start.saturating_add(len);
    }
    let mut end = slice.end.unwrap_or(len);
    if end < 0 || (end == 0 && slice.end_derived) {
        end = end.saturating_add(len);
    }
    // Asking for nothing is fine, wherever it is.
    if start == end {
        return Ok(Vec::new());
    }
    if start < 0 || start >= len {
        return Err(EvalError::OutOfBounds { index: start, length });
    }
    if end < 0 || end > len {
        return Err(EvalError::OutOfBounds { index: end.saturating_sub(1), length });
    }
    if start > end {
        return Err(EvalError::StartAfterEnd { start, end });
    }
    let step = match slice.step {
        Some(step) if step <= 0 => return Err(EvalError::StepNotPositive),
        Some(step) => usize::try_from(step).unwrap_or(usize::MAX),
        None => 1,
    };
    // In bounds: both are within 0..=len.
    let (start, end) = (start as usize, end as usize);
    Ok(select(value, |v| {
        v.as_array().map(|items| items[start..end].iter().step_by(step).collect()).unwrap_or_default()
    }))
}

/// A value as Go's template comparisons see it.
enum Scalar<'v> {
    Bool(bool),
    Integer(i128),
    Float(f64),
    Text(&'v str),
}

fn scalar(value: &Value) -> Result<Scalar<'_>, EvalError> {
    match value {
        Value::Bool(b) => Ok(Scalar::Bool(*b)),
        Value::Number(n) => Ok(match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Scalar::Integer(i.into()),
            (None, Some(u)) => Scalar::Integer(u.into()),
            _ => Scalar::Float(n.as_f64().unwrap_or(f64::NAN)),
        }),
        Value::String(s) => Ok(Scalar::Text(s)),
        Value::Null | Value::Array(_) | Value::Object(_) => Err(EvalError::BadComparisonType),
    }
}

/// Go's `template.Equal`, `Less` and the rest, except that an integer and a float compare as
/// numbers (Go calls them incompatible; a CRD's number field can hold either).
fn compare(operator: Operator, left: &Value, right: &Value) -> Result<bool, EvalError> {
    let (left, right) = (scalar(left)?, scalar(right)?);
    let equal = || -> Result<bool, EvalError> {
        match (&left, &right) {
            (Scalar::Bool(a), Scalar::Bool(b)) => Ok(a == b),
            (Scalar::Text(a), Scalar::Text(b)) => Ok(a == b),
            (Scalar::Integer(a), Scalar::Integer(b)) => Ok(a == b),
            _ => Ok(number(&left)? == number(&right)?),
        }
    };
    let less = || -> Result<bool, EvalError> {
        match (&left, &right) {
            (Scalar::Bool(_), Scalar::Bool(_)) => Err(EvalError::BadComparisonType),
            (Scalar::Text(a), Scalar::Text(b)) => Ok(a < b),
            (Scalar::Integer(a), Scalar::Integer(b)) => Ok(a < b),
            _ => Ok(number(&left)? < number(&right)?),
        }
    };
    Ok(match operator {
        Operator::Equal => equal()?,
        Operator::NotEqual => !equal()?,
        Operator::Less => less()?,
        Operator::LessEqual => less()? || equal()?,
        Operator::Greater => !(less()? || equal()?),
        Operator::GreaterEqual => !less()?,
    })
}

fn number(scalar: &Scalar<'_>) -> Result<f64, EvalError> {
    match scalar {
        Scalar::Integer(i) => Ok(*i as f64),
        Scalar::Float(f) => Ok(*f),
        Scalar::Bool(_) | Scalar::Text(_) => Err(EvalError::IncompatibleTypes),
    }
}
