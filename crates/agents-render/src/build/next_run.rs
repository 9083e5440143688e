//! The run the operator creates for a build's current request, numbered after the build's runs.

use std::borrow::Borrow;

use agents_api::AgentBuild;
use kube::ResourceExt;
use kube::core::DynamicObject;

use super::{SEQUENCE_ANNOTATION, pipeline_run, sequence};
use crate::agent::Incomplete;

/// The PipelineRun of the build's current request, numbered one after the highest of `runs`
/// (the build's runs so far; 1 for its first).
pub fn next_run<R: Borrow<DynamicObject>>(build: &AgentBuild, runs: &[R]) -> Result<DynamicObject, Incomplete> {
    let mut run = pipeline_run(build)?;
    let next = runs.iter().map(|r| sequence(r.borrow())).max().unwrap_or(0) + 1;
    run.annotations_mut().insert(SEQUENCE_ANNOTATION.into(), next.to_string());
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::{SPEC, build};
    use crate::build::pipeline_run_resource;

    #[test]
    fn a_run_is_numbered_after_the_builds_runs() {
        let b = build(SPEC);
        assert_eq!(sequence(&next_run::<DynamicObject>(&b, &[]).unwrap()), 1);
        let numbered = |n: &str| {
            let mut run = DynamicObject::new("old", &pipeline_run_resource());
            run.metadata.annotations = Some([(SEQUENCE_ANNOTATION.to_string(), n.to_string())].into());
            run
        };
        let unnumbered = DynamicObject::new("older", &pipeline_run_resource());
        assert_eq!(sequence(&next_run(&b, &[numbered("3"), unnumbered, numbered("7")]).unwrap()), 8);
    }
}
