//! Behind a proxy, the plugin reaches the cluster as kubectl does: a kubeconfig's `proxy-url`
//! carries its traffic, and `HTTPS_PROXY` (meant for the internet) is not used for a loopback
//! cluster.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, ensure};
use libtest_mimic::Trial;

use crate::support::{Ctx, Env, run_ok, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(env, "proxy", [https_proxy_is_not_used_for_a_loopback_cluster, a_kubeconfigs_proxy_url_carries_the_traffic])
}

async fn https_proxy_is_not_used_for_a_loopback_cluster(ctx: Ctx) -> anyhow::Result<()> {
    // A port nothing listens on: were the proxy used, every request would be refused.
    let unused = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let output = run_ok(ctx.agents(&["get", "agents"]).env("HTTPS_PROXY", format!("http://{unused}")))?;
    ensure!(text(&output.stderr).contains("No agents found"), "unexpected output:\n{}", text(&output.stderr));
    Ok(())
}

async fn a_kubeconfigs_proxy_url_carries_the_traffic(ctx: Ctx) -> anyhow::Result<()> {
    let proxy = ConnectProxy::start()?;
    let mut kubeconfig: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(ctx.cluster.kubeconfig())?)?;
    let cluster = kubeconfig.pointer_mut("/clusters/0/cluster").context("no cluster in the kubeconfig")?;
    cluster["proxy-url"] = format!("http://{}", proxy.address).into();
    let path = ctx.cluster.dir().join(format!("proxied-{}.kubeconfig", ctx.ns));
    std::fs::write(&path, serde_norway::to_string(&kubeconfig)?)?;

    let output = run_ok(ctx.agents(&["get", "agents"]).env("KUBECONFIG", &path))?;
    ensure!(text(&output.stderr).contains("No agents found"), "unexpected output:\n{}", text(&output.stderr));
    let tunnels = proxy.tunnels.load(Ordering::SeqCst);
    ensure!(tunnels > 0, "the plugin did not go through the kubeconfig's proxy-url");
    Ok(())
}

/// A minimal HTTP CONNECT proxy on loopback that counts the tunnels it opened.
struct ConnectProxy {
    address: std::net::SocketAddr,
    tunnels: Arc<AtomicUsize>,
}

impl ConnectProxy {
    fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let tunnels = Arc::new(AtomicUsize::new(0));
        let counter = tunnels.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let _ = tunnel(client, &counter);
                });
            }
        });
        Ok(ConnectProxy { address, tunnels })
    }
}

/// Reads `CONNECT host:port`, dials it (loopback only) and copies bytes both ways.
fn tunnel(client: TcpStream, tunnels: &AtomicUsize) -> anyhow::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let target = request.strip_prefix("CONNECT ").and_then(|r| r.split_whitespace().next()).context("not CONNECT")?;
    let target: std::net::SocketAddr = target.parse()?;
    ensure!(target.ip().is_loopback(), "refusing to dial {target}");
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let upstream = TcpStream::connect(target)?;
    (&client).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    tunnels.fetch_add(1, Ordering::SeqCst);
    let (mut from_client, mut to_upstream) = (reader, upstream.try_clone()?);
    let (mut from_upstream, mut to_client) = (upstream, client);
    let upload = std::thread::spawn(move || std::io::copy(&mut from_client, &mut to_upstream));
    let _ = std::io::copy(&mut from_upstream, &mut to_client);
    let _ = upload.join();
    Ok(())
}
