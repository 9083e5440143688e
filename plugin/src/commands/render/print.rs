//! The rendered objects as a YAML stream (what was assumed and what is not rendered in comments
//! at the top, each object under a comment naming its owner) or as a `v1` `List` in JSON (the
//! notes then go to stderr: JSON has no comments).

use std::io::Write;

use super::{Document, Note, NoteKind};

/// `# …` lines: the summary, then the notes by kind.
pub fn yaml(out: &mut dyn Write, summary: &str, notes: &[Note], documents: &[Document]) -> anyhow::Result<()> {
    for line in std::iter::once(summary.to_string()).chain(note_lines(notes)) {
        writeln!(out, "# {line}")?;
    }
    for document in documents {
        writeln!(out, "---")?;
        writeln!(out, "# {}", document.owner)?;
        write!(out, "{}", serde_norway::to_string(&document.object)?)?;
    }
    out.flush()?;
    Ok(())
}

/// The objects as the `v1` `List` kubectl prints.
pub fn json(out: &mut dyn Write, documents: &[Document]) -> anyhow::Result<()> {
    let items: Vec<&serde_json::Value> = documents.iter().map(|d| &d.object).collect();
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": items,
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
    out.flush()?;
    Ok(())
}

/// The notes as plain lines (for stderr beside JSON).
pub fn notes(out: &mut dyn Write, notes: &[Note]) -> std::io::Result<()> {
    for line in note_lines(notes) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn note_lines(notes: &[Note]) -> Vec<String> {
    let mut lines = Vec::new();
    for (kind, title) in [(NoteKind::Assumed, "Assumed:"), (NoteKind::NotRendered, "Not rendered:")] {
        let mut section = notes.iter().filter(|n| n.kind == kind).peekable();
        if section.peek().is_some() {
            lines.push(title.to_string());
            lines.extend(section.map(|n| format!("  {}: {}", n.about, n.text)));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    fn documents() -> Vec<Document> {
        ["a", "b"]
            .map(|name| Document {
                owner: "Agent team-a/research".into(),
                object: serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                                           "data": {"agent.yaml": "model: x\n# not a comment\n"}}),
            })
            .into()
    }

    #[test]
    fn the_yaml_stream_parses_back_to_the_objects_with_the_notes_as_comments() {
        let notes = [
            Note::not_rendered("ModelAPI team-a/gateway", "mode External runs nothing".into()),
            Note::assumed("owner uids", "0000 stands for …".into()),
        ];
        let mut out = Vec::new();
        yaml(&mut out, "kubectl agents render: 2 objects", &notes, &documents()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "# kubectl agents render: 2 objects\n# Assumed:\n#   owner uids: 0000 stands for …\n\
                 # Not rendered:\n#   ModelAPI team-a/gateway: mode External runs nothing\n---\n# Agent team-a/research\n"
            ),
            "{text}"
        );
        let parsed: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(&text)
            .map(|d| serde_json::Value::deserialize(d).unwrap())
            .filter(|v| !v.is_null())
            .collect();
        let expected: Vec<serde_json::Value> = documents().into_iter().map(|d| d.object).collect();
        assert_eq!(parsed, expected);
    }

    #[test]
    fn json_is_a_list_and_an_empty_render_an_empty_one() {
        let mut out = Vec::new();
        json(&mut out, &documents()).unwrap();
        let list: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!((list["kind"].as_str(), list["items"].as_array().map(Vec::len)), (Some("List"), Some(2)));
        let mut out = Vec::new();
        json(&mut out, &[]).unwrap();
        let list: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(list["items"], serde_json::json!([]));
        let mut out = Vec::new();
        yaml(&mut out, "nothing", &[], &[]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "# nothing\n");
    }
}
