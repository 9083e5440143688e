//! `-o custom-columns=NAME:.metadata.name,PHASE:.status.phase`, as kubectl prints it: the headers
//! as given, each cell the values its path finds joined by commas (Go's `fmt.Sprint` of each), and
//! `<none>` when it finds nothing.

use comfy_table::Table;
use serde_json::Value;

use super::jsonpath::{self, EvalError, Template, TemplateError};

#[derive(Debug, Clone, PartialEq)]
pub struct CustomColumns {
    columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq)]
struct Column {
    header: String,
    path: Template,
}

/// kubectl's messages for a spec it refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("custom-columns format specified but no custom columns given")]
    Empty,
    #[error("unexpected custom-columns spec: {0}, expected <header>:<json-path-expr>")]
    Malformed(String),
    #[error("custom-columns column {header}: {error}")]
    Path { header: String, error: TemplateError },
}

/// A column's path that cannot be followed in an object (an index out of bounds, say).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("custom-columns column {header}: {error}")]
pub struct CellError {
    header: String,
    error: EvalError,
}

impl CustomColumns {
    /// `HEADER:PATH,…`, each path a relaxed JSONPath (`.a.b`, `a.b`, `{.a.b}`). Like kubectl, the
    /// spec is split at every comma, so a path cannot hold one.
    pub fn parse(spec: &str) -> Result<Self, SpecError> {
        if spec.is_empty() {
            return Err(SpecError::Empty);
        }
        let columns = spec
            .split(',')
            .map(|part| {
                let (header, path) = part.split_once(':').ok_or_else(|| SpecError::Malformed(part.to_string()))?;
                let path =
                    Template::relaxed(path).map_err(|error| SpecError::Path { header: header.to_string(), error })?;
                Ok(Column { header: header.to_string(), path })
            })
            .collect::<Result<_, SpecError>>()?;
        Ok(Self { columns })
    }

    pub fn header(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.header.as_str()).collect()
    }

    /// One object's row.
    pub fn cells(&self, object: &Value) -> Result<Vec<String>, CellError> {
        self.columns
            .iter()
            .map(|column| {
                let found =
                    column.path.find(object).map_err(|error| CellError { header: column.header.clone(), error })?;
                if found.is_empty() {
                    return Ok("<none>".to_string());
                }
                let texts: Vec<String> = found.iter().map(|v| escape_terminal(&jsonpath::go_sprint(v))).collect();
                Ok(texts.join(","))
            })
            .collect()
    }

    /// The table of `objects`, header included (the printer leaves it out for `--no-headers`).
    pub fn table(&self, objects: &[Value]) -> Result<Table, CellError> {
        let mut table = super::table(self.header());
        for object in objects {
            table.add_row(self.cells(object)?);
        }
        Ok(table)
    }
}

/// What kubectl does to a cell so that a value cannot drive the terminal (kubernetes#101695).
fn escape_terminal(text: &str) -> String {
    text.replace('\u{1b}', "^[").replace('\r', "\\r")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(spec: &str, objects: &[Value]) -> Vec<String> {
        let columns = CustomColumns::parse(spec).unwrap();
        columns.table(objects).unwrap().lines().map(|l| l.trim_end().to_string()).collect()
    }

    #[test]
    fn columns_print_as_kubectls() {
        let agents = [
            json!({"metadata": {"name": "research", "labels": {"team": "a", "tier": "1"}},
                   "status": {"phase": "Ready", "readyReplicas": 2},
                   "spec": {"peers": [{"name": "x"}, {"name": "y"}]}}),
            json!({"metadata": {"name": "w"}, "status": {"phase": "Waiting\u{1b}[2J\r"}}),
        ];
        assert_eq!(
            rows(
                "NAME:.metadata.name,phase:status.phase,READY:{.status.readyReplicas},PEERS:.spec.peers[*].name",
                &agents
            ),
            [
                "NAME       phase            READY    PEERS",
                "research   Ready            2        x,y",
                "w          Waiting^[[2J\\r   <none>   <none>"
            ]
        );
        assert_eq!(rows("LABELS:.metadata.labels", &agents[..1]), ["LABELS", "map[team:a tier:1]"]);
        assert_eq!(rows("EMPTY:", &agents[..1]), ["EMPTY", "<none>"]);
    }

    #[test]
    fn bad_specs_say_what_kubectl_says() {
        assert_eq!(CustomColumns::parse("").unwrap_err(), SpecError::Empty);
        assert_eq!(
            CustomColumns::parse("NAME:.metadata.name,PHASE").unwrap_err().to_string(),
            "unexpected custom-columns spec: PHASE, expected <header>:<json-path-expr>"
        );
        assert_eq!(
            CustomColumns::parse("NAME:{.a").unwrap_err().to_string(),
            "custom-columns column NAME: unexpected path string \"{.a\", expected a 'name1.name2' or \
             '.name1.name2' or '{name1.name2}' or '{.name1.name2}'"
        );
        assert_eq!(
            CustomColumns::parse("NAME:.a[").unwrap_err().to_string(),
            "custom-columns column NAME: error parsing jsonpath \"{.a[}\": unterminated array at column 4"
        );
        let columns = CustomColumns::parse("FIRST:.items[0]").unwrap();
        assert_eq!(
            columns.cells(&json!({"items": []})).unwrap_err().to_string(),
            "custom-columns column FIRST: array index out of bounds: index 0, length 0"
        );
    }
}
