//! What the word being completed is, decided from the command line and clap's command tree alone
//! (no I/O): a [`Plan`] of the candidates known without the cluster, the one look-up it needs
//! (namespaces, contexts, the names of a kind, or what belongs to the object named on the line:
//! its runs, its containers), and whether the shell should offer files.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Arg, Command, ValueHint};

use crate::flags::Global;
use crate::kinds::Kind;

/// One completion, with its description (cobra's `value\tdescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub help: Option<String>,
}

/// What only the cluster (or the kubeconfig) can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The cluster's namespaces (`-n`).
    Namespaces,
    /// The kubeconfig's contexts (`--context`).
    Contexts,
    /// The names of the live objects of a kind, in the namespace of `-n` or the kubeconfig's.
    Names(Kind),
    /// The names of the live objects of a kind in every namespace (`-A`), each once.
    NamesInAllNamespaces(Kind),
    /// The runs (Tekton PipelineRuns) of the AgentBuild of this name.
    BuildRuns(String),
    /// The runs (Argo Workflows) of the AgentWorkflow of this name.
    WorkflowRuns(String),
    /// The containers and init containers of the pods of the Agent of this name.
    Containers(String),
}

/// How to complete the last word.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What the user has typed of the word (after `--flag=`, if any).
    pub word: String,
    /// What every completion starts with: `--namespace=` when completing `--namespace=te`.
    pub prefix: String,
    /// The candidates known from the command tree.
    pub candidates: Vec<Candidate>,
    pub lookup: Option<Lookup>,
    /// A file path is expected: the shell's own file completion applies.
    pub files: bool,
    /// `--kubeconfig`, `--context` and `-n` as given on the line, for the look-up.
    pub global: Global,
}

/// cobra's ShellCompDirective: complete nothing else, or (with a path) let the shell complete files.
const NO_FILE_COMP: u8 = 4;
const DEFAULT: u8 = 0;

impl Plan {
    /// The lines cobra's protocol prints: the candidates (and `found`, what the look-up found)
    /// that start with the word, then `:<directive>`.
    pub fn lines(&self, found: &[String]) -> Vec<String> {
        let looked_up = found.iter().map(|name| Candidate { value: name.clone(), help: None });
        let mut lines: Vec<String> = Vec::new();
        for candidate in self.candidates.iter().cloned().chain(looked_up) {
            if !candidate.value.starts_with(&self.word) || candidate.value.contains(char::is_whitespace) {
                continue;
            }
            let line = match candidate.help {
                Some(help) => format!("{}{}\t{help}", self.prefix, candidate.value),
                None => format!("{}{}", self.prefix, candidate.value),
            };
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
        lines.push(format!(":{}", if self.files { DEFAULT } else { NO_FILE_COMP }));
        lines
    }
}

/// The positional arguments that name live objects: (command path, argument id, what it names).
/// A unit test holds every entry to an argument of the command tree.
pub const RESOURCE_ARGUMENTS: &[(&[&str], &str, Names)] = &[
    (&["get"], "names", Names::KindThenNames),
    (&["describe"], "names", Names::KindThenNames),
    (&["delete"], "names", Names::KindThenNames),
    (&["logs"], "name", Names::Of(Kind::Agent)),
    (&["invoke"], "name", Names::Of(Kind::Agent)),
    (&["scale"], "name", Names::Of(Kind::Agent)),
    (&["restart"], "names", Names::Of(Kind::Agent)),
    (&["build"], "name", Names::Of(Kind::AgentBuild)),
    (&["build", "list"], "name", Names::Of(Kind::AgentBuild)),
    (&["build", "logs"], "name", Names::Of(Kind::AgentBuild)),
    (&["workflow", "run"], "name", Names::Of(Kind::AgentWorkflow)),
    (&["workflow", "status"], "name", Names::Of(Kind::AgentWorkflow)),
    (&["workflow", "approve"], "name", Names::Of(Kind::AgentWorkflow)),
    (&["workflow", "reject"], "name", Names::Of(Kind::AgentWorkflow)),
    (&["workflow", "logs"], "name", Names::Of(Kind::AgentWorkflow)),
];

/// The arguments (positionals or flags) whose values belong to the object the command's
/// positional `owner` names, once it is on the line: (command path, argument id, owner id, what).
/// A unit test holds every entry to arguments of the command tree.
pub const OWNED_ARGUMENTS: &[(&[&str], &str, &str, Owned)] = &[
    (&["build", "logs"], "run", "name", Owned::BuildRuns),
    (&["workflow", "status"], "run", "name", Owned::WorkflowRuns),
    (&["workflow", "logs"], "run", "name", Owned::WorkflowRuns),
    (&["workflow", "approve"], "run", "name", Owned::WorkflowRuns),
    (&["workflow", "reject"], "run", "name", Owned::WorkflowRuns),
    (&["logs"], "container", "name", Owned::Containers),
];

/// What an owned argument's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {
    /// An AgentBuild's runs.
    BuildRuns,
    /// An AgentWorkflow's runs.
    WorkflowRuns,
    /// An Agent's pods' containers.
    Containers,
}

impl Owned {
    fn of(self, owner: String) -> Lookup {
        match self {
            Owned::BuildRuns => Lookup::BuildRuns(owner),
            Owned::WorkflowRuns => Lookup::WorkflowRuns(owner),
            Owned::Containers => Lookup::Containers(owner),
        }
    }
}

/// What a positional argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// Objects of one kind.
    Of(Kind),
    /// `[KIND] [NAME…]`: a kind or an Agent first, then names of that kind.
    KindThenNames,
}

/// The plan for the last of `args` (the word being completed; none is an empty word), the rest
/// being what precedes it after `kubectl agents`. `root` is the built command tree
/// ([`Command::build`], so global flags are on every subcommand).
pub fn plan(root: &Command, args: &[String]) -> Plan {
    let (word, before) = match args.split_last() {
        Some((word, before)) => (word.as_str(), before),
        None => ("", &[][..]),
    };
    let mut walk = Walk {
        command: root,
        path: Vec::new(),
        positionals: Vec::new(),
        pending: None,
        only_positionals: false,
        all_namespaces: false,
        global: Global::default(),
    };
    for token in before {
        walk.step(token);
    }
    walk.finish(word)
}

/// Where the command line has got to.
struct Walk<'a> {
    command: &'a Command,
    /// The subcommands' names from the root (`["workflow", "run"]`).
    path: Vec<&'a str>,
    /// The current command's positional values so far.
    positionals: Vec<String>,
    /// A flag that waits for its value.
    pending: Option<&'a Arg>,
    /// After `--`.
    only_positionals: bool,
    /// The current command's `-A`.
    all_namespaces: bool,
    global: Global,
}

impl<'a> Walk<'a> {
    fn step(&mut self, token: &str) {
        if let Some(flag) = self.pending.take() {
            self.record(flag, token);
        } else if self.only_positionals {
            self.positionals.push(token.to_string());
        } else if token == "--" {
            self.only_positionals = true;
        } else if let Some(long) = token.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            match (find_long(self.command, name), value) {
                (Some(flag), Some(value)) => self.record(flag, value),
                (Some(flag), None) if takes_value(flag) => self.pending = Some(flag),
                (Some(flag), None) => self.switch(flag),
                (None, _) => {}
            }
        } else if let Some(shorts) = token.strip_prefix('-').filter(|s| !s.is_empty()) {
            // `-Aw`, `-n team`, `-nteam`, `-n=team`; an unknown letter ends the cluster.
            for (at, letter) in shorts.char_indices() {
                let Some(flag) = find_short(self.command, letter) else { break };
                if !takes_value(flag) {
                    self.switch(flag);
                    continue;
                }
                let rest = &shorts[at + letter.len_utf8()..];
                match rest.strip_prefix('=').unwrap_or(rest) {
                    "" => self.pending = Some(flag),
                    value => self.record(flag, value),
                }
                break;
            }
        } else if let Some(sub) = self.subcommand(token) {
            self.command = sub;
            self.path.push(sub.get_name());
            self.positionals.clear();
            // Only global flags carry over, and `-A` is not one.
            self.all_namespaces = false;
        } else {
            self.positionals.push(token.to_string());
        }
    }

    fn subcommand(&self, token: &str) -> Option<&'a Command> {
        if !self.positionals.is_empty() {
            return None;
        }
        self.command.find_subcommand(token)
    }

    /// Keeps the connection flags for the look-up.
    fn record(&mut self, flag: &Arg, value: &str) {
        match flag.get_id().as_str() {
            "namespace" => self.global.namespace = Some(value.to_string()),
            "context" => self.global.context = Some(value.to_string()),
            "kubeconfig" => self.global.kubeconfig = Some(PathBuf::from(value)),
            _ => {}
        }
    }

    /// Keeps the flags without a value that change the look-up.
    fn switch(&mut self, flag: &Arg) {
        if flag.get_id() == "all_namespaces" {
            self.all_namespaces = true;
        }
    }

    /// The names of a kind, in the namespace or, with `-A`, in all of them.
    fn names(&self, kind: Kind) -> Lookup {
        if self.all_namespaces { Lookup::NamesInAllNamespaces(kind) } else { Lookup::Names(kind) }
    }

    /// What belongs to the object named on the line, when `arg` (of the current command) is an
    /// owned argument and its owner is given as a plausible object name.
    fn owned(&self, arg: &Arg) -> Option<Lookup> {
        let (_, _, owner, owned) =
            OWNED_ARGUMENTS.iter().find(|(path, id, _, _)| *path == self.path.as_slice() && arg.get_id() == *id)?;
        let name = self.positional_value(owner)?;
        is_object_name(name).then(|| owned.of(name.to_string()))
    }

    /// The value given to the current command's positional `id`, if any.
    fn positional_value(&self, id: &str) -> Option<&str> {
        self.positionals
            .iter()
            .enumerate()
            .find(|(index, _)| nth_positional(self.command, *index).is_some_and(|arg| arg.get_id() == id))
            .map(|(_, value)| value.as_str())
    }

    fn finish(self, word: &str) -> Plan {
        if let Some(flag) = self.pending {
            return self.value_of(flag, word, String::new());
        }
        if !self.only_positionals {
            if let Some((name, value)) = word.strip_prefix("--").and_then(|long| long.split_once('=')) {
                return match find_long(self.command, name).filter(|flag| takes_value(flag)) {
                    Some(flag) => self.value_of(flag, value, format!("--{name}=")),
                    None => self.nothing(word),
                };
            }
            if word.starts_with('-') {
                let candidates = flags(self.command);
                return Plan { candidates, ..self.nothing(word) };
            }
        }
        self.positional(word)
    }

    /// A flag's value: its possible values, namespaces, contexts, or files.
    fn value_of(self, flag: &Arg, word: &str, prefix: String) -> Plan {
        let lookup = match flag.get_id().as_str() {
            "namespace" => Some(Lookup::Namespaces),
            "context" => Some(Lookup::Contexts),
            _ => self.owned(flag),
        };
        Plan { prefix, candidates: possible_values(flag), lookup, files: is_path(flag), ..self.nothing(word) }
    }

    /// A subcommand, or the value of the next positional argument.
    fn positional(self, word: &str) -> Plan {
        let mut candidates = Vec::new();
        if self.positionals.is_empty() {
            candidates.extend(subcommands(self.command));
        }
        let Some(arg) = nth_positional(self.command, self.positionals.len()) else {
            return Plan { candidates, ..self.nothing(word) };
        };
        candidates.extend(possible_values(arg));
        let names = RESOURCE_ARGUMENTS
            .iter()
            .find(|(path, id, _)| *path == self.path.as_slice() && arg.get_id() == *id)
            .map(|(_, _, names)| *names);
        let lookup = match names {
            None => self.owned(arg),
            Some(Names::Of(kind)) => Some(self.names(kind)),
            Some(Names::KindThenNames) => match self.positionals.first() {
                None => {
                    candidates.extend(kinds());
                    Some(self.names(Kind::Agent))
                }
                Some(first) => Some(self.names(Kind::parse(first).unwrap_or(Kind::Agent))),
            },
        };
        let files = is_path(arg);
        Plan { candidates, lookup, files, ..self.nothing(word) }
    }

    fn nothing(self, word: &str) -> Plan {
        Plan {
            word: word.to_string(),
            prefix: String::new(),
            candidates: Vec::new(),
            lookup: None,
            files: false,
            global: self.global,
        }
    }
}

/// Whether `name` can be the name of an object that owns others, which carry it as a label's
/// value (at most 63 characters): anything else would only make the API server refuse the
/// selector.
fn is_object_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn find_long<'a>(command: &'a Command, name: &str) -> Option<&'a Arg> {
    command.get_arguments().find(|arg| arg.get_long_and_visible_aliases().is_some_and(|longs| longs.contains(&name)))
}

fn find_short(command: &Command, letter: char) -> Option<&Arg> {
    command
        .get_arguments()
        .find(|arg| arg.get_short_and_visible_aliases().is_some_and(|shorts| shorts.contains(&letter)))
}

fn takes_value(flag: &Arg) -> bool {
    flag.get_action().takes_values()
}

fn is_path(arg: &Arg) -> bool {
    matches!(arg.get_value_hint(), ValueHint::AnyPath | ValueHint::FilePath | ValueHint::DirPath)
}

/// The positional argument that takes the `index`th positional value (the last may take many).
fn nth_positional(command: &Command, mut index: usize) -> Option<&Arg> {
    for arg in command.get_positionals() {
        let takes = arg.get_num_args().map_or(1, |range| range.max_values());
        if index < takes {
            return Some(arg);
        }
        index -= takes;
    }
    None
}

fn flags(command: &Command) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for arg in command.get_arguments().filter(|arg| !arg.is_positional() && !arg.is_hide_set()) {
        let help = arg.get_help().map(|help| one_line(&help.to_string()));
        if let Some(long) = arg.get_long() {
            candidates.push(Candidate { value: format!("--{long}"), help: help.clone() });
        }
        if let Some(short) = arg.get_short() {
            candidates.push(Candidate { value: format!("-{short}"), help });
        }
    }
    candidates
}

fn subcommands(command: &Command) -> impl Iterator<Item = Candidate> + '_ {
    command.get_subcommands().filter(|sub| !sub.is_hide_set()).map(|sub| Candidate {
        value: sub.get_name().to_string(),
        help: sub.get_about().map(|about| one_line(&about.to_string())),
    })
}

fn possible_values(arg: &Arg) -> Vec<Candidate> {
    arg.get_possible_values()
        .iter()
        .filter(|value| !value.is_hide_set())
        .map(|value: &PossibleValue| Candidate {
            value: value.get_name().to_string(),
            help: value.get_help().map(|help| one_line(&help.to_string())),
        })
        .collect()
}

/// The kinds by their plural names, described by their Kind.
fn kinds() -> impl Iterator<Item = Candidate> {
    Kind::ALL.into_iter().map(|kind| Candidate {
        value: kind.names().get(1).copied().unwrap_or(kind.kind()).to_string(),
        help: Some(kind.kind().to_string()),
    })
}

/// A description fit for one line of the protocol: its first line, without tabs.
fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().replace('\t', " ").trim().to_string()
}
