//! What runs in a KWOK pod, run for real ([`agents_testenv::pods`]), for one test: in its
//! namespace, with this build's `agents-runtime`, within the suite's deadline.

use std::net::IpAddr;
use std::path::Path;

use k8s_openapi::api::core::v1::Container;

pub use agents_testenv::pods::{PodProcess, as_rendered, start_program};

use crate::support::{Ctx, DEADLINE, binaries_dir};

/// The running pod (name and IP) matching `selector`, once there is one.
pub async fn running_pod(ctx: &Ctx, selector: &str) -> anyhow::Result<(String, IpAddr)> {
    Ok(agents_testenv::pods::running_pod(&ctx.client, &ctx.ns, selector, DEADLINE).await?)
}

/// The first container of the Deployment `name`, as the operator rendered it.
pub async fn rendered_container(ctx: &Ctx, name: &str) -> anyhow::Result<Container> {
    Ok(agents_testenv::pods::rendered_container(&ctx.client, &ctx.ns, name).await?)
}

/// This build's `agents-runtime`, started as the Agent `name`'s pod would run it.
pub async fn start_runtime(
    ctx: &Ctx,
    name: &str,
    cluster_urls: &[(String, String)],
    dir: &Path,
) -> anyhow::Result<PodProcess> {
    let runtime = binaries_dir().join("agents-runtime");
    Ok(agents_testenv::pods::start_runtime(&ctx.client, &ctx.ns, name, &runtime, cluster_urls, dir).await?)
}

/// The in-cluster base URL of a Service in the test's namespace.
pub fn service_url(ctx: &Ctx, service: &str) -> String {
    agents_testenv::pods::service_url(&ctx.ns, service)
}
