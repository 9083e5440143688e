//! `--sort-by=JSONPATH`: a list in the order of the first value the path finds in each object, as
//! kubectl sorts it: objects without one first, numbers by value, strings by their bytes (or as
//! quantities when every one is a quantity, `500m` < `2` < `1Gi`); an RFC 3339 timestamp sorts
//! as a string, which is its order in time.

use std::cmp::Ordering;

use serde::Serialize;
use serde_json::Value;

use super::jsonpath::{EvalError, Template, TemplateError};

#[derive(Debug, Clone, PartialEq)]
pub struct SortBy {
    path: Template,
}

#[derive(Debug, thiserror::Error)]
pub enum SortError {
    #[error("couldn't find any field with path {0:?} in the list of objects")]
    NotFound(String),
    #[error("cannot sort by {path:?}: it finds {kind}, and only numbers and strings can be sorted")]
    Unsortable { path: String, kind: &'static str },
    #[error("cannot sort by {path:?}: it finds both numbers and strings")]
    Mixed { path: String },
    #[error("error executing jsonpath {path:?}: {error}")]
    Eval { path: String, error: EvalError },
    #[error("cannot read the objects to sort them: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// The value an object sorts by.
enum Key {
    Missing,
    Number(f64),
    Text(String),
}

impl SortBy {
    /// `.metadata.name`, `metadata.name` or `{.metadata.name}`.
    pub fn parse(expression: &str) -> Result<Self, TemplateError> {
        Ok(Self { path: Template::relaxed(expression)? })
    }

    /// Sorts `objects` in place (stably); a list of one is left as it is, as kubectl leaves it.
    pub fn sort<T: Serialize>(&self, objects: &mut Vec<T>) -> Result<(), SortError> {
        if objects.len() < 2 {
            return Ok(());
        }
        let keys = objects.iter().map(|object| self.key(object)).collect::<Result<Vec<Key>, _>>()?;
        let path = || self.path.source().to_string();
        if keys.iter().all(|k| matches!(k, Key::Missing)) {
            return Err(SortError::NotFound(path()));
        }
        let numbers = keys.iter().any(|k| matches!(k, Key::Number(_)));
        let texts = keys.iter().any(|k| matches!(k, Key::Text(_)));
        if numbers && texts {
            return Err(SortError::Mixed { path: path() });
        }
        // Strings are quantities only if all of them are, so that the order is total.
        let quantities: Option<Vec<f64>> = match texts {
            true => keys.iter().map(|k| if let Key::Text(t) = k { quantity(t) } else { Some(0.0) }).collect(),
            false => None,
        };
        let mut order: Vec<usize> = (0..objects.len()).collect();
        order.sort_by(|&a, &b| match (&keys[a], &keys[b]) {
            (Key::Missing, Key::Missing) => Ordering::Equal,
            (Key::Missing, _) => Ordering::Less,
            (_, Key::Missing) => Ordering::Greater,
            (Key::Number(x), Key::Number(y)) => x.total_cmp(y),
            (Key::Text(x), Key::Text(y)) => match &quantities {
                Some(q) => q[a].total_cmp(&q[b]),
                None => x.cmp(y),
            },
            // Refused above.
            _ => Ordering::Equal,
        });
        let mut slots: Vec<Option<T>> = objects.drain(..).map(Some).collect();
        objects.extend(order.into_iter().filter_map(|i| slots[i].take()));
        Ok(())
    }

    fn key<T: Serialize>(&self, object: &T) -> Result<Key, SortError> {
        let value = serde_json::to_value(object)?;
        let found =
            self.path.find(&value).map_err(|error| SortError::Eval { path: self.path.source().into(), error })?;
        let unsortable = |kind| Err(SortError::Unsortable { path: self.path.source().into(), kind });
        match found.first().map(|v| v.as_ref()) {
            None | Some(Value::Null) => Ok(Key::Missing),
            Some(Value::Number(n)) => Ok(Key::Number(n.as_f64().unwrap_or(0.0))),
            Some(Value::String(s)) => Ok(Key::Text(s.clone())),
            Some(Value::Bool(_)) => unsortable("booleans"),
            Some(Value::Array(_)) => unsortable("arrays"),
            Some(Value::Object(_)) => unsortable("objects"),
        }
    }
}

/// A Kubernetes quantity (`500m`, `2`, `1.5Gi`, `1e3`) as a number, if `text` is one.
fn quantity(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let digits = unsigned.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(digits);
    let well_formed = number.matches('.').count() <= 1 && number.chars().any(|c| c.is_ascii_digit());
    if !well_formed {
        return None;
    }
    let number: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => {
            let power = exponent.strip_prefix(['e', 'E'])?;
            let digits = power.strip_prefix(['+', '-']).unwrap_or(power);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            10f64.powi(power.parse().ok()?)
        }
    };
    let magnitude = number * scale;
    Some(if text.starts_with('-') { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names_sorted_by(expression: &str, objects: &[Value]) -> Result<Vec<String>, String> {
        let mut objects = objects.to_vec();
        SortBy::parse(expression).map_err(|e| e.to_string())?.sort(&mut objects).map_err(|e| e.to_string())?;
        Ok(objects.iter().map(|o| o["metadata"]["name"].as_str().unwrap_or("?").to_string()).collect())
    }

    fn agent(name: &str, extra: Value) -> Value {
        let mut object = json!({"metadata": {"name": name}});
        if let (Some(object), Value::Object(extra)) = (object.as_object_mut(), extra) {
            object.extend(extra);
        }
        object
    }

    #[test]
    fn lists_sort_as_kubectl_sorts_them() {
        let agents = [
            agent("b", json!({"spec": {"replicas": 10, "memory": "1Gi"}, "status": {"since": "2026-01-02T00:00:00Z"}})),
            agent(
                "c",
                json!({"spec": {"replicas": 9, "memory": "512Mi"}, "status": {"since": "2025-12-31T23:00:00Z"}}),
            ),
            agent("a", json!({"spec": {"replicas": 2.5, "memory": "2G"}})),
        ];
        assert_eq!(names_sorted_by(".metadata.name", &agents).unwrap(), ["a", "b", "c"]);
        assert_eq!(names_sorted_by("{.metadata.name}", &agents).unwrap(), ["a", "b", "c"]);
        assert_eq!(names_sorted_by("spec.replicas", &agents).unwrap(), ["a", "c", "b"]);
        assert_eq!(names_sorted_by(".spec.memory", &agents).unwrap(), ["c", "b", "a"]);
        // Missing first, then in time.
        assert_eq!(names_sorted_by(".status.since", &agents).unwrap(), ["a", "c", "b"]);
        // Not every string is a quantity: all sort as strings.
        let mixed = [agent("x", json!({"v": "10"})), agent("y", json!({"v": "9"})), agent("z", json!({"v": "v1"}))];
        assert_eq!(names_sorted_by(".v", &mixed).unwrap(), ["x", "y", "z"]);
        assert_eq!(names_sorted_by(".v", &mixed[..2]).unwrap(), ["y", "x"]);
    }

    #[test]
    fn what_cannot_be_sorted_is_an_error() {
        let agents = [agent("a", json!({"s": true, "v": 1})), agent("b", json!({"s": false, "v": "1"}))];
        assert_eq!(
            names_sorted_by(".nothing", &agents).unwrap_err(),
            "couldn't find any field with path \"{.nothing}\" in the list of objects"
        );
        assert!(names_sorted_by(".s", &agents).unwrap_err().contains("it finds booleans"));
        assert!(names_sorted_by(".metadata", &agents).unwrap_err().contains("it finds objects"));
        assert!(names_sorted_by(".v", &agents).unwrap_err().contains("both numbers and strings"));
        assert!(names_sorted_by("{.a", &agents).unwrap_err().contains("unexpected path string"));
        // One object is not sorted, so nothing is looked up.
        assert_eq!(names_sorted_by(".nothing", &agents[..1]).unwrap(), ["a"]);
    }

    #[test]
    fn quantities_read_as_kubernetes_reads_them() {
        assert_eq!(quantity("500m"), Some(0.5));
        assert_eq!(quantity("2"), Some(2.0));
        assert_eq!(quantity("1Ki"), Some(1024.0));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("-1.5k"), Some(-1500.0));
        assert_eq!(quantity(".5"), Some(0.5));
        for not_one in ["", "m", "1.2.3", "abc", "1x", "1e", "1e+", "2026-01-01T00:00:00Z", "--1"] {
            assert_eq!(quantity(not_one), None, "{not_one}");
        }
    }
}
