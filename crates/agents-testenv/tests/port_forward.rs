//! `kwok::forward_pod` end to end: `kubectl port-forward` to a fake pod reaches a listener of the
//! test's own, bound to the pod's IP. Starts a small private cluster (one node, no CRD sets).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use agents_testenv::{Cluster, Error, Options, kwok};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::wait::await_condition;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

const DEADLINE: Duration = Duration::from_secs(30);

/// Stops the private cluster however the test ends.
struct Stop(Cluster);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[tokio::test]
async fn kubectl_port_forward_reaches_the_listener_named_by_the_pods_port_forward() -> Result<(), Error> {
    let options = Options { nodes: 1, crds: Vec::new(), extra_crds: Vec::new() };
    let cluster = Stop(Cluster::start_for_this_process(&options).await?);
    let client = cluster.0.client().await?;
    let ns = cluster.0.namespace("port-forward").await?;

    let pods: Api<Pod> = Api::namespaced(client.clone(), ns.name());
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "image": "example.invalid/web:1", "ports": [{"containerPort": 8000}]}]},
    }))
    .expect("a Pod literal");
    pods.create(&PostParams::default(), &pod).await.expect("create the pod");
    let running = |pod: Option<&Pod>| {
        pod.and_then(|p| p.status.as_ref()).is_some_and(|s| s.phase.as_deref() == Some("Running") && s.pod_ip.is_some())
    };
    let pod = tokio::time::timeout(DEADLINE, await_condition(pods.clone(), "web", running))
        .await
        .expect("KWOK runs the pod")
        .expect("the watch works")
        .expect("the pod exists");
    let pod_ip = pod.status.and_then(|s| s.pod_ip).expect("a pod IP");

    // The fake server binds the pod's own (loopback) address, as a test's fake agent would.
    let listener = TcpListener::bind((pod_ip.as_str(), 0)).await.expect("bind the pod's IP");
    let target = listener.local_addr().expect("a bound address");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let _ = conn.write_all(format!("hello from {target}\n").as_bytes()).await;
        }
    });
    kwok::forward_pod(&client, ns.name(), "web", 8000, target).await?;

    // kwok learns of the PortForward through a watch: until it has, a connection fails and
    // kubectl gives up ("lost connection to pod"), so each attempt starts a fresh kubectl.
    let started = Instant::now();
    let mut attempts = 0;
    let answer = loop {
        attempts += 1;
        let (mut kubectl, local) = port_forward(&cluster.0, ns.name()).await;
        if let Some(answer) = read_once(local).await {
            let _ = kubectl.kill().await;
            break answer;
        }
        let _ = kubectl.kill().await;
        assert!(started.elapsed() < DEADLINE, "no answer through kubectl port-forward after {attempts} attempts");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(answer, format!("hello from {target}\n"), "after {attempts} attempt(s)");
    eprintln!(
        "answered through kubectl port-forward at attempt {attempts}, {:.0?} after forward_pod",
        started.elapsed()
    );

    ns.delete().await?;
    Ok(())
}

/// Starts `kubectl port-forward pod/web :8000` and returns it with the local address it chose.
async fn port_forward(cluster: &Cluster, namespace: &str) -> (Child, SocketAddr) {
    let mut kubectl = Command::new(cluster.kubernetes_bin().join("kubectl"))
        .arg(format!("--kubeconfig={}", cluster.kubeconfig().display()))
        .args(["-n", namespace, "port-forward", "pod/web", "--address=127.0.0.1", ":8000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start kubectl");
    let mut lines = BufReader::new(kubectl.stdout.take().expect("piped stdout")).lines();
    // "Forwarding from 127.0.0.1:40123 -> 8000"
    let local = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("read kubectl's output") {
            if let Some(address) = line.strip_prefix("Forwarding from ").and_then(|rest| rest.split(' ').next()) {
                return address.parse::<SocketAddr>().expect("kubectl prints an address");
            }
        }
        panic!("kubectl port-forward exited without forwarding");
    })
    .await
    .expect("kubectl port-forward starts listening");
    // kubectl prints a line per connection: with its stdout closed, the write would kill it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (kubectl, local)
}

/// The first line the pod's port answers on one connection through the forward, `None` if the
/// connection fails. A line, not "until EOF": kwok keeps the stream open after the target closes
/// its end, until the client closes its own.
async fn read_once(local: SocketAddr) -> Option<String> {
    let conn = TcpStream::connect(local).await.ok()?;
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), BufReader::new(conn).read_line(&mut answer)).await.ok()?.ok()?;
    (!answer.is_empty()).then_some(answer)
}
