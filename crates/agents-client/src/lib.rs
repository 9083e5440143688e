//! How our binaries reach a cluster: through a proxy exactly when kubectl would.
//!
//! kube reads `HTTPS_PROXY` for every cluster and checks `NO_PROXY` against the proxy's address
//! rather than the cluster's, so a proxy meant for the internet would also carry traffic to a
//! local or excluded cluster. kubectl (Go's `http.ProxyFromEnvironment`) uses a kubeconfig's
//! `proxy-url` as given, and otherwise the environment's proxy for the cluster's scheme unless
//! the cluster is loopback or `NO_PROXY` names it. [`route_like_kubectl`] applies those rules.

use std::net::IpAddr;

use ipnet::IpNet;

/// The proxy variables of the environment (the upper-case name wins, as in Go).
#[derive(Debug, Default, Clone)]
pub struct ProxyEnv {
    pub https: Option<String>,
    pub http: Option<String>,
    pub no_proxy: Option<String>,
}

impl ProxyEnv {
    pub fn from_process() -> Self {
        let var = |name: &str| {
            [name.to_string(), name.to_lowercase()]
                .into_iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
        };
        ProxyEnv { https: var("HTTPS_PROXY"), http: var("HTTP_PROXY"), no_proxy: var("NO_PROXY") }
    }
}

/// Sets `config.proxy_url` as kubectl would for the process's environment.
pub fn route_like_kubectl(config: &mut kube::Config) {
    config.proxy_url = proxy_for(&config.cluster_url, config.proxy_url.take(), &ProxyEnv::from_process());
}

/// The proxy for `cluster`: `configured` (what kube derived from the kubeconfig and the
/// environment) if it is the kubeconfig's own `proxy-url`, else the environment's proxy for the
/// cluster's scheme unless the cluster is loopback or excluded by `NO_PROXY`.
pub fn proxy_for(cluster: &http::Uri, configured: Option<http::Uri>, env: &ProxyEnv) -> Option<http::Uri> {
    let from_env = env.https.as_deref().and_then(|p| p.parse::<http::Uri>().ok());
    if configured.is_some() && configured != from_env {
        return configured; // the kubeconfig's proxy-url
    }
    let https = cluster.scheme_str() != Some("http");
    let proxy = if https { env.https.as_deref() } else { env.http.as_deref() }?;
    let host = cluster.host()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let port = cluster.port_u16().unwrap_or(if https { 443 } else { 80 });
    if host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return None;
    }
    if env.no_proxy.as_deref().is_some_and(|list| excluded(list, &host, port)) {
        return None;
    }
    proxy.parse().ok()
}

/// Whether the `NO_PROXY` list names `host:port`, by Go's rules: `*` names everything; an IP or
/// a CIDR names the addresses in it; `example.com` names it and its subdomains, `.example.com`
/// (or `*.example.com`) only its subdomains; any entry may add `:port`.
fn excluded(list: &str, host: &str, port: u16) -> bool {
    let ip = host.parse::<IpAddr>().ok();
    list.split(',').map(|entry| entry.trim().to_ascii_lowercase()).filter(|entry| !entry.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        if let Ok(net) = entry.parse::<IpNet>() {
            return ip.is_some_and(|ip| net.contains(&ip));
        }
        let (name, entry_port) = split_port(&entry);
        if entry_port.is_some_and(|p| p != port) {
            return false;
        }
        if let Ok(entry_ip) = name.parse::<IpAddr>() {
            return ip == Some(entry_ip);
        }
        let name = name.strip_prefix('*').unwrap_or(name);
        match name.strip_prefix('.') {
            Some(_) => host.ends_with(name),
            None => host == name || host.ends_with(&format!(".{name}")),
        }
    })
}

/// `host:port`, `[v6]:port` or a bare host.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        if let Some((ip, port)) = rest.split_once("]:") {
            return (ip, port.parse().ok());
        }
        return (rest.trim_end_matches(']'), None);
    }
    match entry.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, port.parse().ok()),
        _ => (entry, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(no_proxy: &str) -> ProxyEnv {
        ProxyEnv {
            https: Some("http://proxy.corp:3128".into()),
            http: Some("http://plain.corp:3128".into()),
            no_proxy: Some(no_proxy.into()).filter(|s: &String| !s.is_empty()),
        }
    }

    fn via(cluster: &str, env: &ProxyEnv) -> Option<String> {
        let from_kube = env.https.as_deref().map(|p| p.parse().unwrap());
        proxy_for(&cluster.parse().unwrap(), from_kube, env).map(|u| u.to_string())
    }

    #[test]
    fn a_remote_cluster_goes_through_the_environments_proxy() {
        assert_eq!(via("https://api.example.com:6443", &env("")).as_deref(), Some("http://proxy.corp:3128/"));
        assert_eq!(via("http://api.example.com", &env("")).as_deref(), Some("http://plain.corp:3128/"));
    }

    #[test]
    fn loopback_clusters_are_never_proxied() {
        for cluster in ["https://127.0.0.1:6443", "https://localhost:6443", "https://[::1]:6443", "https://127.3.2.1"] {
            assert_eq!(via(cluster, &env("")), None, "{cluster}");
        }
    }

    #[test]
    fn no_proxy_follows_gos_rules() {
        let cases = [
            ("*", "https://api.example.com", true),
            ("example.com", "https://api.example.com", true),
            ("example.com", "https://example.com", true),
            ("example.com", "https://badexample.com", false),
            (".example.com", "https://example.com", false),
            (".example.com", "https://api.example.com", true),
            ("*.example.com", "https://api.example.com", true),
            ("10.0.0.0/8", "https://10.1.2.3:6443", true),
            ("10.0.0.0/8", "https://11.1.2.3:6443", false),
            ("10.1.2.3", "https://10.1.2.3:6443", true),
            ("api.example.com:6443", "https://api.example.com:6443", true),
            ("api.example.com:443", "https://api.example.com:6443", false),
            (" other.org , Example.COM ", "https://api.example.com", true),
            ("fd00::/8", "https://[fd00::1]:6443", true),
        ];
        for (no_proxy, cluster, bypassed) in cases {
            assert_eq!(via(cluster, &env(no_proxy)).is_none(), bypassed, "NO_PROXY={no_proxy} for {cluster}");
        }
    }

    #[test]
    fn a_kubeconfigs_proxy_url_is_used_as_given() {
        let own: http::Uri = "socks5://jump.corp:1080".parse().unwrap();
        let chosen = proxy_for(&"https://127.0.0.1:6443".parse().unwrap(), Some(own.clone()), &env("*"));
        assert_eq!(chosen, Some(own));
    }

    #[test]
    fn without_proxy_variables_nothing_is_proxied() {
        assert_eq!(via("https://api.example.com", &ProxyEnv::default()), None);
    }
}
