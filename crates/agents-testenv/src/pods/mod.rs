//! What runs in a KWOK pod, run for real: nothing runs inside KWOK's pods, so a test (or the demo)
//! starts the program the pod would run as a process on this machine, bound to the pod's own
//! address (on loopback), with the environment the operator rendered, and points KWOK's
//! port-forwarding for the pod at it. `kubectl port-forward` (and `kubectl agents invoke`) then
//! reach the program through the API server and KWOK, as they reach a container in a real cluster.

mod process;
mod rendered;
mod runtime;
mod urls;

use std::time::Duration;

pub use process::{PodProcess, as_rendered, start_program};
pub(crate) use rendered::running;
pub use rendered::{agent_config_file, rendered_container, resolved_env, running_pod};
pub use runtime::{start_runtime, start_runtime_in};
pub use urls::{cluster_urls, replace_urls, service_url};

/// How long a pod gets to run and a program to serve, unless a caller says otherwise.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often a wait looks again: short, as what it waits for (a local process binding, a fake
/// pod's phase) takes milliseconds.
const POLL: Duration = Duration::from_millis(20);
