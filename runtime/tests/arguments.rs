//! The binary takes no arguments, but `--help` and `--version` answer as every tool's do, and a
//! stray argument is refused rather than ignored.

use std::process::Command;

fn runtime(argument: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_agents-runtime")).arg(argument).env_clear().output().expect("the runtime runs")
}

#[test]
fn help_names_the_environment_it_reads() {
    let output = runtime("--help");
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("AGENT_NAME") && help.contains("docs/runtime.md"), "{help}");
}

#[test]
fn version_is_the_crates() {
    let output = runtime("-V");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), format!("agents-runtime {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_stray_argument_is_refused() {
    let output = runtime("--port=8080");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("unexpected argument \"--port=8080\""));
}
