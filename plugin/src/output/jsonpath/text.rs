//! Values printed the way kubectl (Go) prints them: results of a template (strings raw, objects and
//! arrays as `encoding/json` writes them), and `fmt.Sprint` for custom columns (`map[a:b]`).

use std::fmt::Write;

use serde_json::{Number, Value};

/// One result of a template action, as client-go's `PrintResults` writes it.
pub fn result(value: &Value, out: &mut String) {
    match value {
        Value::Object(_) | Value::Array(_) => json(value, None, out),
        Value::String(s) => out.push_str(s),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&sprint_number(n)),
    }
}

/// Go's `fmt.Sprint` of an unstructured value: what `custom-columns` prints in a cell.
pub fn go_sprint(value: &Value) -> String {
    let mut out = String::new();
    sprint(value, &mut out);
    out
}

fn sprint(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&sprint_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                sprint(item, out);
            }
            out.push(']');
        }
        // Go prints a map's keys sorted, as serde_json's map keeps them.
        Value::Object(map) => {
            out.push_str("map[");
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                sprint(item, out);
            }
            out.push(']');
        }
    }
}

/// The Go type an unstructured value has, for client-go's messages.
pub fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// `%v` of a number: integers as they are; floats as `%g` with the fewest digits, which switches
/// to an exponent from 1e+06 (`1`, `2.5`, `1e+06`, `1e-05`).
fn sprint_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => {
            let (mantissa, exponent) = scientific(f);
            if (-4..6).contains(&exponent) {
                format!("{f}")
            } else {
                let sign = if exponent < 0 { '-' } else { '+' };
                format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
            }
        }
        _ => n.to_string(),
    }
}

/// A float as encoding/json writes it: plain from 1e-6 to 1e21, `1e+21` and `1e-7` outside.
fn json_float(f: f64) -> String {
    let magnitude = f.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let (mantissa, exponent) = scientific(f);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{}", exponent.unsigned_abs())
    } else {
        format!("{f}")
    }
}

/// The shortest digits of `f` as a mantissa and a power of ten (`1.5e3`: "1.5", 3).
fn scientific(f: f64) -> (String, i32) {
    let text = format!("{f:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    (mantissa.to_string(), exponent.parse().unwrap_or(0))
}

/// encoding/json's `Marshal` (compact) or `MarshalIndent` with `indent`: keys sorted, floats
/// without a needless `.0`, and `<`, `>`, `&` escaped as Go escapes them.
pub fn json(value: &Value, indent: Option<&str>, out: &mut String) {
    write_json(value, indent, 0, out);
}

fn write_json(value: &Value, indent: Option<&str>, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(indent) = indent {
            out.push('\n');
            out.push_str(&indent.repeat(depth));
        }
    };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&json_float(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => json_string(s, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(item, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                json_string(key, out);
                out.push_str(if indent.is_some() { ": " } else { ":" });
                write_json(item, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            // HTML-safe, as Go writes by default.
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_print_as_go_prints_them() {
        let text = |v: Value| {
            let mut out = String::new();
            result(&v, &mut out);
            out
        };
        assert_eq!(text(json!(1.0)), "1");
        assert_eq!(text(json!(2.2)), "2.2");
        assert_eq!(text(json!(123456.0)), "123456");
        assert_eq!(text(json!(1000000.0)), "1e+06");
        assert_eq!(text(json!(1234567.5)), "1.2345675e+06");
        assert_eq!(text(json!(0.0001)), "0.0001");
        assert_eq!(text(json!(0.00001)), "1e-05");
        assert_eq!(text(json!(-3)), "-3");
        assert_eq!(text(json!(u64::MAX)), "18446744073709551615");
        assert_eq!(text(json!(null)), "null");
        let compact = |v: Value| {
            let mut out = String::new();
            json(&v, None, &mut out);
            out
        };
        assert_eq!(compact(json!([1.0, 2.5, 1e21, 1e-7, 1e20])), "[1,2.5,1e+21,1e-7,100000000000000000000]");
    }

    #[test]
    fn json_is_go_s_compact_or_indented_form() {
        let value = json!({"b": [1, {"c": "<&>"}], "a": {}, "e": [], "s": "tab\there\u{1}"});
        let mut compact = String::new();
        json(&value, None, &mut compact);
        assert_eq!(compact, r#"{"a":{},"b":[1,{"c":"\u003c\u0026\u003e"}],"e":[],"s":"tab\there\u0001"}"#);
        let mut indented = String::new();
        json(&json!(["x", {"k": 1}]), Some("    "), &mut indented);
        assert_eq!(indented, "[\n    \"x\",\n    {\n        \"k\": 1\n    }\n]");
    }

    #[test]
    fn sprint_reads_like_go_fmt() {
        assert_eq!(go_sprint(&json!({"b": [1, "x"], "a": null})), "map[a:<nil> b:[1 x]]");
        assert_eq!(go_sprint(&json!("plain")), "plain");
        assert_eq!(go_sprint(&json!(true)), "true");
    }
}
