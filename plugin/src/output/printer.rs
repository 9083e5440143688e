//! kubectl's print flags for the commands that print objects (`get`, `build list`): `-o`,
//! `--no-headers`, `--sort-by`, `--allow-missing-template-keys`, and the printers they choose.
//!
//! `-o` is read in two stages: clap takes the format's name (an unknown one is a usage error, as
//! before), and the command compiles the template or the columns before asking the cluster
//! anything, so a bad template fails with exit code 1 and a message saying where, as kubectl's does.

use std::io::Write;
use std::str::FromStr;

use anyhow::Context;
use clap::builder::{PossibleValue, TypedValueParser};
use serde::Serialize;
use serde_json::Value;

use super::custom_columns::CustomColumns;
use super::jsonpath::{self, Template};
use super::sort::SortBy;
use super::{Format, column_widths, write_table, write_value};

#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct PrintFlags {
    /// Output format: table, wide, json, yaml, name, jsonpath=TEMPLATE (e.g. '{.items[*].metadata.name}'),
    /// jsonpath-as-json=TEMPLATE, or custom-columns=SPEC (e.g. NAME:.metadata.name,PHASE:.status.phase).
    #[arg(short = 'o', long, value_name = "FORMAT", default_value = "table", value_parser = OutputParser,
          hide_possible_values = true)]
    pub output: Output,
    /// Print tables (table, wide, custom-columns) without their header line.
    #[arg(long)]
    pub no_headers: bool,
    /// Sort the list by a field, given as a JSONPath expression: .metadata.name, '{.status.phase}'.
    #[arg(long, value_name = "JSONPATH")]
    pub sort_by: Option<String>,
    /// With -o jsonpath: a field that is missing prints nothing (false: it is an error).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub allow_missing_template_keys: bool,
}

impl Default for PrintFlags {
    fn default() -> Self {
        Self { output: Output::Table, no_headers: false, sort_by: None, allow_missing_template_keys: true }
    }
}

/// `-o` as given: a format, or one with the template or columns it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Table,
    Wide,
    Json,
    Yaml,
    Name,
    JsonPath(String),
    JsonPathAsJson(String),
    CustomColumns(String),
}

const VALID: &str =
    "valid formats: table, wide, json, yaml, name, jsonpath=TEMPLATE, jsonpath-as-json=TEMPLATE, custom-columns=SPEC";

impl FromStr for Output {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            Some(("jsonpath", template)) => Ok(Self::JsonPath(template.into())),
            Some(("jsonpath-as-json", template)) => Ok(Self::JsonPathAsJson(template.into())),
            Some(("custom-columns", spec)) => Ok(Self::CustomColumns(spec.into())),
            _ => match text {
                "table" => Ok(Self::Table),
                "wide" => Ok(Self::Wide),
                "json" => Ok(Self::Json),
                "yaml" => Ok(Self::Yaml),
                "name" => Ok(Self::Name),
                "jsonpath" | "jsonpath-as-json" => {
                    Err(format!("{text} needs a template: -o {text}='{{.items[*].metadata.name}}'"))
                }
                "custom-columns" => Err("custom-columns needs columns: -o custom-columns=NAME:.metadata.name".into()),
                _ => Err(format!("unknown output format {text:?}; {VALID}")),
            },
        }
    }
}

/// Parses `-o` and offers its formats to shell completion.
#[derive(Clone)]
struct OutputParser;

impl TypedValueParser for OutputParser {
    type Value = Output;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Output, clap::Error> {
        // clap's own wording: "invalid value 'x' for '--output <FORMAT>': …".
        let parse = |text: &str| text.parse::<Output>();
        TypedValueParser::parse_ref(&parse, command, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let formats = ["table", "wide", "json", "yaml", "name", "jsonpath=", "jsonpath-as-json=", "custom-columns="];
        Some(Box::new(formats.into_iter().map(PossibleValue::new)))
    }
}

/// What prints the objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Printer {
    /// The kind's own columns, which each command knows.
    Table { wide: bool, headers: bool },
    /// Printed from the objects' JSON, whatever their kind.
    Generic(Generic),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Generic {
    Json,
    Yaml,
    Name,
    JsonPath { template: Template, options: jsonpath::Options },
    CustomColumns { columns: CustomColumns, headers: bool },
}

impl PrintFlags {
    /// The printer `-o` chose, its template or columns compiled.
    pub fn printer(&self) -> anyhow::Result<Printer> {
        let headers = !self.no_headers;
        let template = |source: &str, as_json: bool| -> anyhow::Result<Printer> {
            if source.is_empty() {
                anyhow::bail!("template format specified but no template given");
            }
            let template = Template::parse(source)
                .map_err(|error| anyhow::anyhow!("error parsing jsonpath {source:?}: {error}"))?;
            let options = jsonpath::Options { allow_missing_keys: self.allow_missing_template_keys, as_json };
            Ok(Printer::Generic(Generic::JsonPath { template, options }))
        };
        Ok(match &self.output {
            Output::Table => Printer::Table { wide: false, headers },
            Output::Wide => Printer::Table { wide: true, headers },
            Output::Json => Printer::Generic(Generic::Json),
            Output::Yaml => Printer::Generic(Generic::Yaml),
            Output::Name => Printer::Generic(Generic::Name),
            Output::JsonPath(source) => template(source, false)?,
            Output::JsonPathAsJson(source) => template(source, true)?,
            Output::CustomColumns(spec) => {
                Printer::Generic(Generic::CustomColumns { columns: CustomColumns::parse(spec)?, headers })
            }
        })
    }

    /// `--sort-by`, compiled.
    pub fn sort_by(&self) -> anyhow::Result<Option<SortBy>> {
        self.sort_by.as_deref().map(SortBy::parse).transpose().context("--sort-by")
    }
}

impl Generic {
    /// Prints `objects`: for JSON, YAML and templates one object as itself when a single name
    /// was asked for (`single`), else a `v1` `List` of them, as kubectl does. Returns the widths of
    /// the columns printed (custom-columns), so that rows printed later (a watch) line up.
    pub fn print<T: Serialize>(&self, objects: &[T], single: bool, out: &mut dyn Write) -> anyhow::Result<Vec<usize>> {
        match self {
            Self::Name => {
                for object in objects {
                    writeln!(out, "{}", resource_name(&serde_json::to_value(object)?))?;
                }
            }
            Self::CustomColumns { columns, headers } => {
                let values = objects.iter().map(serde_json::to_value).collect::<Result<Vec<_>, _>>()?;
                let table = columns.table(&values)?;
                write_table(out, &table, *headers)?;
                return Ok(column_widths(&table));
            }
            Self::Json | Self::Yaml | Self::JsonPath { .. } => {
                let document = document(objects, single)?;
                match self {
                    Self::Json => write_value(out, &document, Format::Json)?,
                    Self::Yaml => write_value(out, &document, Format::Yaml)?,
                    Self::JsonPath { template, options } => {
                        let text = template.render(&document, *options).map_err(|error| {
                            anyhow::anyhow!("error executing jsonpath {:?}: {error}", template.source())
                        })?;
                        out.write_all(text.as_bytes())?;
                    }
                    _ => {}
                }
            }
        }
        Ok(Vec::new())
    }

    /// One object as a watch prints it: on its own, a custom-columns row on the listing's `widths`.
    pub fn print_one<T: Serialize>(&self, object: &T, widths: &[usize], out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            Self::CustomColumns { columns, .. } if !widths.is_empty() => {
                let cells = columns.cells(&serde_json::to_value(object)?)?;
                writeln!(out, "{}", super::aligned(&cells, widths).trim_end())?;
            }
            _ => {
                self.print(std::slice::from_ref(object), true, out)?;
            }
        }
        out.flush()?;
        Ok(())
    }
}

/// One object as itself, or several (or none) as the `v1` `List` kubectl prints.
fn document<T: Serialize>(objects: &[T], single: bool) -> serde_json::Result<Value> {
    match objects {
        [object] if single => serde_json::to_value(object),
        _ => Ok(serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": objects,
        })),
    }
}

/// kubectl's `-o name`: `agent.agents.dev/research`, `pipelinerun.tekton.dev/x`, `pod/y`.
fn resource_name(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or_default().to_lowercase();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    match object["apiVersion"].as_str().and_then(|v| v.split_once('/')) {
        Some((group, _)) => format!("{kind}.{group}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Parser, Debug)]
    struct Command {
        #[command(flatten)]
        print: PrintFlags,
    }

    fn flags(args: &[&str]) -> Result<PrintFlags, String> {
        Command::try_parse_from([&["get"], args].concat()).map(|c| c.print).map_err(|e| e.to_string())
    }

    fn agents() -> Vec<Value> {
        ["research", "writer"]
            .iter()
            .map(|name| {
                json!({"apiVersion": "agents.dev/v1alpha1", "kind": "Agent",
                       "metadata": {"name": name, "namespace": "team"}, "status": {"phase": "Ready"}})
            })
            .collect()
    }

    fn printed(args: &[&str], objects: &[Value], single: bool) -> Result<String, String> {
        let printer = flags(args)?.printer().map_err(|e| format!("{e:#}"))?;
        let Printer::Generic(printer) = printer else { return Err(format!("not generic: {printer:?}")) };
        let mut out = Vec::new();
        printer.print(objects, single, &mut out).map_err(|e| format!("{e:#}"))?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn output_flags_parse_like_kubectls() {
        assert_eq!(flags(&[]).unwrap(), PrintFlags::default());
        assert_eq!(flags(&["-o", "wide"]).unwrap().output, Output::Wide);
        assert_eq!(flags(&["-ojson"]).unwrap().output, Output::Json);
        assert_eq!(flags(&["--output=yaml"]).unwrap().output, Output::Yaml);
        assert_eq!(
            flags(&["-o", "jsonpath={.items[*].metadata.name}"]).unwrap().output,
            Output::JsonPath("{.items[*].metadata.name}".into())
        );
        assert_eq!(flags(&["-o=jsonpath-as-json={@}"]).unwrap().output, Output::JsonPathAsJson("{@}".into()));
        assert_eq!(
            flags(&["-o", "custom-columns=NAME:.metadata.name"]).unwrap().output,
            Output::CustomColumns("NAME:.metadata.name".into())
        );
        let all =
            flags(&["--no-headers", "--sort-by", ".metadata.name", "--allow-missing-template-keys=false"]).unwrap();
        assert!(all.no_headers && !all.allow_missing_template_keys);
        assert_eq!(all.sort_by.as_deref(), Some(".metadata.name"));
        assert!(flags(&["--allow-missing-template-keys"]).unwrap().allow_missing_template_keys);

        let unknown = flags(&["-o", "xml"]).unwrap_err();
        assert!(unknown.contains("invalid value 'xml' for '--output <FORMAT>'"), "{unknown}");
        assert!(unknown.contains("valid formats: table, wide, json, yaml, name, jsonpath=TEMPLATE"), "{unknown}");
        assert!(flags(&["-o", "jsonpath"]).unwrap_err().contains("jsonpath needs a template"));
    }

    #[test]
    fn bad_templates_and_columns_fail_when_compiled() {
        let error = |args: &[&str]| format!("{:#}", flags(args).unwrap().printer().unwrap_err());
        assert_eq!(
            error(&["-o", "jsonpath={range .items[*]}{.metadata.name}"]),
            r#"error parsing jsonpath "{range .items[*]}{.metadata.name}": unclosed {range} at column 1"#
        );
        assert_eq!(error(&["-o", "jsonpath="]), "template format specified but no template given");
        assert!(error(&["-o", "custom-columns=NAME"]).contains("expected <header>:<json-path-expr>"));
        let sort = format!("{:#}", flags(&["--sort-by", "{.a"]).unwrap().sort_by().unwrap_err());
        assert!(sort.starts_with("--sort-by: unexpected path string"), "{sort}");
    }

    #[test]
    fn lists_print_as_kubectl_wraps_them() {
        let agents = agents();
        let names = ["-o", "jsonpath={.items[*].metadata.name}"];
        assert_eq!(printed(&names, &agents, false).unwrap(), "research writer");
        assert_eq!(printed(&names, &[], false).unwrap(), "");
        // One object asked for by name is the object itself.
        assert_eq!(printed(&["-o", "jsonpath={.metadata.name}"], &agents[..1], true).unwrap(), "research");
        assert_eq!(printed(&["-o", "jsonpath={.kind} {.apiVersion}"], &agents, false).unwrap(), "List v1");
        assert_eq!(
            printed(
                &["-o", r#"jsonpath={range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}"#],
                &agents,
                false
            )
            .unwrap(),
            "research\tReady\nwriter\tReady\n"
        );
        assert_eq!(
            printed(&["-o", "jsonpath-as-json={.items[*].metadata.name}"], &agents, false).unwrap(),
            "[\n    \"research\",\n    \"writer\"\n]\n"
        );
        assert_eq!(printed(&["-o", "jsonpath={.spec}"], &agents, false).unwrap(), "");
        assert_eq!(
            printed(&["-o", "jsonpath={.items[*].spec}", "--allow-missing-template-keys=false"], &agents, false)
                .unwrap_err(),
            r#"error executing jsonpath "{.items[*].spec}": spec is not found"#
        );
        assert_eq!(
            printed(&["-o", "jsonpath={.items[3]}"], &agents, false).unwrap_err(),
            r#"error executing jsonpath "{.items[3]}": array index out of bounds: index 3, length 2"#
        );
        assert_eq!(
            printed(&["-o", "name"], &agents, false).unwrap(),
            "agent.agents.dev/research\nagent.agents.dev/writer\n"
        );
        let list: Value = serde_json::from_str(&printed(&["-o", "json"], &agents, false).unwrap()).unwrap();
        assert_eq!(list["kind"], "List");
        assert_eq!(list["items"][1]["metadata"]["name"], "writer");
        let one: Value = serde_norway::from_str(&printed(&["-o", "yaml"], &agents[1..], true).unwrap()).unwrap();
        assert_eq!(one["metadata"]["name"], "writer");
    }

    #[test]
    fn custom_columns_print_a_table_with_or_without_headers() {
        let agents = agents();
        let spec = "custom-columns=NAME:.metadata.name,PHASE:.status.phase,MODEL:.spec.model.name";
        assert_eq!(
            printed(&["-o", spec], &agents, false).unwrap(),
            "NAME       PHASE   MODEL\nresearch   Ready   <none>\nwriter     Ready   <none>\n"
        );
        assert_eq!(
            printed(&["-o", spec, "--no-headers"], &agents, false).unwrap(),
            "research   Ready   <none>\nwriter     Ready   <none>\n"
        );
        // An empty list still has its header, as kubectl prints it.
        assert_eq!(printed(&["-o", spec], &[], false).unwrap(), "NAME   PHASE   MODEL\n");

        let Printer::Generic(printer) = flags(&["-o", spec]).unwrap().printer().unwrap() else { unreachable!() };
        let mut out = Vec::new();
        let widths = printer.print(&agents, false, &mut out).unwrap();
        let mut row = Vec::new();
        printer
            .print_one(&json!({"metadata": {"name": "x"}, "status": {"phase": "Waiting"}}), &widths, &mut row)
            .unwrap();
        assert_eq!(String::from_utf8(row).unwrap(), "x          Waiting   <none>\n");
    }

    #[test]
    fn names_carry_the_group() {
        assert_eq!(
            resource_name(&json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "r"}})),
            "pipelinerun.tekton.dev/r"
        );
        assert_eq!(resource_name(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})), "pod/p");
    }
}
