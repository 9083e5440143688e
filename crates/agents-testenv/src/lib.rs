//! A real local Kubernetes control plane for tests and the demo, with no container runtime:
//! etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from their Go modules,
//! KWOK playing the kubelets of two fake nodes, and the Tekton and Argo CRDs installed.
//!
//! Nothing runs inside KWOK's pods, so what a pod would run is run here instead when it matters:
//! [`pods`] starts a pod's program on the pod's address with the environment the operator
//! rendered, [`model`] is a scripted model for agents to call, and [`run_agent`] keeps an Agent's
//! pod played for the demo.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agents_testenv::Error> {
//! let cluster = agents_testenv::Cluster::start_for_this_process(&Default::default()).await?;
//! let ns = cluster.namespace("my-test").await?;
//! // ... create objects in `ns.name()` with `cluster.client()` ...
//! ns.delete().await?;
//! cluster.stop();
//! # Ok(()) }
//! ```

pub mod argo;
pub mod cargo;
mod cluster;
mod components;
pub mod crds;
mod error;
mod fsutil;
pub mod gobuild;
pub mod http;
mod kubeconfig;
pub mod kwok;
pub mod model;
mod namespace;
pub mod node;
mod pki;
pub mod pods;
mod process;
pub mod python;
pub mod run_agent;
pub mod tekton;
pub mod tools;
mod wait;

pub use cluster::{Cluster, Options, cache_dir};
pub use error::Error;
pub use namespace::TestNamespace;
