//! The deployment files cannot drift from the server: `docker-compose.yml`,
//! `deploy/haproxy.cfg` and the `Dockerfile` are parsed and checked against
//! the real settings (clap's `TANDEM_*` list, `Config::validate`), routes and
//! health behaviour of a server started here. No Docker engine needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory, Parser};
use serde_json::Value;
use tandem::config::{Cli, Command};

use crate::helpers::spawn_app;

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn compose() -> Value {
    serde_yaml_ng::from_str(&read("docker-compose.yml")).expect("docker-compose.yml is YAML")
}

/// Every `TANDEM_*` variable the server reads, with its long flag.
fn settings() -> BTreeMap<String, String> {
    Cli::command()
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_str()?.to_owned();
            Some((env, arg.get_long()?.to_owned()))
        })
        .collect()
}

/// Compose interpolation of `${VAR:?msg}` / `${VAR:-default}` / `${VAR}`
/// with the test's values.
fn interpolate(value: &str, vars: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closing brace") + start;
        let inner = &rest[start + 2..end];
        let (name, default) = match inner.find(':') {
            Some(i) if inner[i..].starts_with(":-") => (&inner[..i], Some(&inner[i + 2..])),
            Some(i) => (&inner[..i], None),
            None => (inner, None),
        };
        let resolved = vars
            .get(name)
            .copied()
            .or(default)
            .unwrap_or_else(|| panic!("${{{name}}} has no default and no test value"));
        out.push_str(resolved);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A service's environment as a map (compose allows a map or `K=V` list).
fn environment(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let item = text(item);
                let (k, v) = item.split_once('=').expect("K=V");
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn duration(text: &str) -> Duration {
    tandem::config::parse_duration(text).unwrap_or_else(|e| panic!("{e}"))
}

/// `host:port` of a URL or address.
fn port_of(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr}"))
}

/// HAProxy config: section header → its lines (trimmed, comments dropped).
fn haproxy() -> BTreeMap<String, Vec<String>> {
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in read("deploy/haproxy.cfg").lines() {
        let body = line.split('#').next().unwrap_or("").trim_end();
        if body.trim().is_empty() {
            continue;
        }
        if !body.starts_with(char::is_whitespace) {
            current = body.trim().to_owned();
            sections.entry(current.clone()).or_default();
        } else {
            sections
                .entry(current.clone())
                .or_default()
                .push(body.trim().to_owned());
        }
    }
    sections
}

fn directive<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines
        .iter()
        .find(|l| l.split_whitespace().next() == Some(name) || l.starts_with(&format!("{name} ")))
        .map(String::as_str)
}

fn words_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let mut words = line.split_whitespace();
    words.by_ref().find(|w| *w == key)?;
    words.next()
}

#[test]
fn compose_nodes_use_real_settings_and_pass_validation() {
    let compose = compose();
    let services = compose["services"].as_object().expect("services");
    let known = settings();
    let nodes: Vec<(&String, &Value)> = services
        .iter()
        .filter(|(_, s)| s["image"] == "tandem:local")
        .collect();
    assert_eq!(nodes.len(), 2, "two Tandem nodes");
    let vars = BTreeMap::from([(
        "TANDEM_JWT_HS256_SECRET",
        "compose-test-secret-0123456789abcdef0123456789",
    )]);
    for (name, node) in &nodes {
        assert_eq!(
            node["build"], ".",
            "{name} builds the repository's Dockerfile"
        );
        let env = environment(node);
        let mut args = vec!["tandem".to_owned()];
        for (key, value) in &env {
            let flag = known
                .get(key)
                .unwrap_or_else(|| panic!("{name}: {key} is not a setting of src/config.rs"));
            args.push(format!("--{flag}={}", interpolate(value, &vars)));
        }
        let cli = Cli::try_parse_from(&args)
            .unwrap_or_else(|e| panic!("{name}: environment does not parse: {e}"));
        let settings = cli
            .config
            .validate()
            .unwrap_or_else(|e| panic!("{name}: environment does not validate: {e}"));
        let config = &settings.config;
        assert_eq!(config.engine, tandem::config::EngineKind::Redis, "{name}");
        assert!(
            config.listen.ip().is_unspecified(),
            "{name}: must listen on all interfaces inside its container"
        );
        let expose: Vec<u16> = node["expose"]
            .as_array()
            .expect("expose")
            .iter()
            .map(|p| text(p).parse().unwrap())
            .collect();
        assert_eq!(expose, vec![config.listen.port()], "{name}");
        // Its Redis is the compose Redis, on Redis's port.
        let url = url::Url::parse(config.redis_url.as_str()).unwrap();
        let redis_host = url.host_str().unwrap();
        let redis = &services[redis_host];
        assert!(
            text(&redis["image"]).starts_with("redis:"),
            "{name} → {redis_host}"
        );
        assert_eq!(url.port().unwrap_or(6379), 6379);
        assert!(node["depends_on"][redis_host]["condition"] == "service_healthy");
        // The health check is the real `tandem health` subcommand.
        let test: Vec<String> = node["healthcheck"]["test"]
            .as_array()
            .expect("healthcheck.test")
            .iter()
            .map(text)
            .collect();
        assert_eq!(test[0], "CMD");
        let probe = Cli::try_parse_from(&test[1..]).expect("healthcheck command parses");
        assert!(
            matches!(probe.command, Some(Command::Health(_))),
            "{test:?}"
        );
        // Docker waits long enough for a drain and a graceful shutdown.
        let grace = duration(&text(&node["stop_grace_period"]));
        assert!(
            grace > config.drain_delay + config.shutdown_timeout,
            "{name}: stop_grace_period {grace:?} ≤ drain delay + shutdown timeout"
        );
        assert!(
            !config.drain_delay.is_zero(),
            "{name}: nodes behind a balancer drain first"
        );
    }
}

#[test]
fn compose_redis_is_durable_and_checked() {
    let compose = compose();
    let redis = &compose["services"]["redis"];
    let command: Vec<String> = redis["command"]
        .as_array()
        .expect("command")
        .iter()
        .map(text)
        .collect();
    let value = |flag: &str| {
        let i = command
            .iter()
            .position(|c| c == flag)
            .unwrap_or_else(|| panic!("no {flag}"));
        command[i + 1].clone()
    };
    assert_eq!(value("--appendonly"), "yes");
    assert_eq!(value("--appendfsync"), "everysec");
    assert!(redis["healthcheck"]["test"].to_string().contains("ping"));
    let volumes = redis["volumes"].as_array().expect("volumes");
    let volume = text(&volumes[0]);
    let (name, target) = volume.split_once(':').unwrap();
    assert_eq!(target, "/data", "the AOF lives in a volume");
    assert!(
        compose["volumes"].get(name).is_some(),
        "named volume {name}"
    );
}

#[tokio::test]
async fn balancer_config_agrees_with_compose_and_the_server() {
    let compose = compose();
    let services = compose["services"].as_object().unwrap();
    let cfg = haproxy();
    let lb = &services["lb"];
    assert!(text(&lb["image"]).starts_with("haproxy:"));
    let mounted = text(&lb["volumes"][0]);
    let (source, target) = mounted.split_once(':').unwrap();
    assert_eq!(source, "./deploy/haproxy.cfg");
    assert!(target.starts_with("/usr/local/etc/haproxy/haproxy.cfg"));

    let defaults = &cfg["defaults"];
    assert_eq!(directive(defaults, "mode"), Some("mode http"));
    assert!(
        directive(defaults, "timeout").is_some()
            && defaults.iter().any(|l| l.starts_with("timeout tunnel ")),
        "WebSockets need a tunnel timeout"
    );
    let tunnel = defaults
        .iter()
        .find(|l| l.starts_with("timeout tunnel "))
        .unwrap();
    let tunnel = duration(tunnel.split_whitespace().nth(2).unwrap());
    let ping = Cli::try_parse_from(["tandem"])
        .unwrap()
        .config
        .ping_interval;
    assert!(
        tunnel > ping * 2,
        "idle WebSockets outlive the tunnel timeout"
    );

    // Published port = the port HAProxy binds.
    let frontend = cfg
        .iter()
        .find(|(k, _)| k.starts_with("frontend "))
        .expect("frontend")
        .1;
    let bind = directive(frontend, "bind").expect("bind");
    let bind_port = port_of(bind.split_whitespace().nth(1).unwrap());
    let published = text(&lb["ports"][0]);
    let container_port: u16 = published.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(container_port, bind_port);

    // Every Tandem node is a checked server at its listen port, and nothing else.
    let backend = cfg
        .iter()
        .find(|(k, _)| k.starts_with("backend "))
        .expect("backend")
        .1;
    let mut servers = BTreeMap::new();
    for line in backend.iter().filter(|l| l.starts_with("server ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(words.contains(&"check"), "{line}: health-checked");
        let (host, port) = words[2].split_once(':').unwrap();
        assert_eq!(words[1], host, "{line}");
        servers.insert(host.to_owned(), port.parse::<u16>().unwrap());
    }
    let nodes: BTreeSet<&String> = services
        .iter()
        .filter(|(_, s)| s["image"] == "tandem:local")
        .map(|(n, _)| n)
        .collect();
    assert_eq!(servers.keys().collect::<BTreeSet<_>>(), nodes);
    let mut drain_delay = Duration::ZERO;
    for name in nodes {
        let env = environment(&services[name.as_str()]);
        assert_eq!(
            servers[name.as_str()],
            port_of(&env["TANDEM_LISTEN"]),
            "{name}"
        );
        drain_delay = duration(&env["TANDEM_DRAIN_DELAY"]);
        assert!(lb["depends_on"][name.as_str()]["condition"] == "service_healthy");
    }

    // The check: the server's readiness path, out of rotation before the
    // node disconnects its clients.
    let check = directive(backend, "option").filter(|l| l.starts_with("option httpchk"));
    let check = check.or_else(|| {
        backend
            .iter()
            .find(|l| l.starts_with("option httpchk"))
            .map(String::as_str)
    });
    let path = check
        .expect("option httpchk")
        .split_whitespace()
        .nth(3)
        .expect("check path")
        .to_owned();
    assert_eq!(
        backend
            .iter()
            .find(|l| l.starts_with("http-check expect"))
            .map(String::as_str),
        Some("http-check expect status 200")
    );
    let default_server = directive(backend, "default-server").expect("default-server");
    let inter = duration(words_after(default_server, "inter").expect("inter"));
    let fall: u32 = words_after(default_server, "fall")
        .expect("fall")
        .parse()
        .unwrap();
    assert!(
        inter * fall < drain_delay,
        "HAProxy needs {:?} to see a drain; TANDEM_DRAIN_DELAY is {drain_delay:?}",
        inter * fall
    );
    // On a real server: 200 ready, then 503 while draining.
    let app = spawn_app(&["--drain-delay", "2s"]).await;
    let url = format!("http://{}{path}", app.addr);
    let http = reqwest::Client::new();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200, "{path}");
    let addr = app.addr;
    let stopping = tokio::spawn(app.shutdown());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let status = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap()
            .status();
        if status == 503 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never turned 503 while draining"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stopping.await.unwrap().unwrap();
}

#[tokio::test]
async fn dockerfile_builds_a_small_non_root_image_with_the_frontend_and_a_health_check() {
    let dockerfile = read("Dockerfile");
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let stages: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert!(
        stages.len() >= 3,
        "frontend, server and runtime stages: {stages:?}"
    );
    assert!(
        stages.last().unwrap().contains("-slim"),
        "small runtime base"
    );
    let runtime_start = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    // Join continuation lines of the runtime stage.
    let runtime = lines[runtime_start..].join("\n").replace("\\\n", " ");
    let runtime: Vec<&str> = runtime.lines().collect();
    let find = |word: &str| {
        runtime
            .iter()
            .find(|l| l.starts_with(&format!("{word} ")))
            .unwrap_or_else(|| panic!("runtime stage has no {word}"))
            .to_owned()
    };
    let user = find("USER").split_whitespace().nth(1).unwrap();
    assert!(!matches!(user, "root" | "0" | "0:0"), "non-root user");
    // ENV: real settings only (and the log filter).
    let known = settings();
    let mut env = BTreeMap::new();
    for pair in find("ENV").split_whitespace().skip(1) {
        let (k, v) = pair.split_once('=').expect("ENV K=V");
        assert!(
            k == "RUST_LOG" || known.contains_key(k),
            "{k} is not a setting"
        );
        env.insert(k.to_owned(), v.to_owned());
    }
    let listen: std::net::SocketAddr = env["TANDEM_LISTEN"].parse().unwrap();
    assert!(listen.ip().is_unspecified());
    let expose: u16 = find("EXPOSE")
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(expose, listen.port());
    // The frontend is copied where TANDEM_FRONTEND_DIR points.
    let frontend = runtime
        .iter()
        .find(|l| l.starts_with("COPY --from=frontend"))
        .expect("frontend copied in");
    assert!(frontend
        .split_whitespace()
        .nth(1)
        .unwrap()
        .ends_with("=frontend"));
    assert!(frontend.contains("/dist "), "{frontend}");
    assert_eq!(
        frontend.split_whitespace().last(),
        Some(env["TANDEM_FRONTEND_DIR"].as_str())
    );
    // HEALTHCHECK runs the real `tandem health`.
    let health = find("HEALTHCHECK");
    let exec = &health[health.find("CMD").expect("CMD") + 3..];
    let exec: Vec<String> = serde_json::from_str(exec.trim()).expect("exec-form JSON array");
    let probe = Cli::try_parse_from(&exec).expect("health command parses");
    assert!(matches!(probe.command, Some(Command::Health(_))));
    assert_eq!(find("ENTRYPOINT"), r#"ENTRYPOINT ["tandem"]"#);
    // The workspace members the build needs are copied in.
    for path in ["Cargo.toml", "Cargo.lock", "src/", "bench/"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("COPY ") && l.contains(path)),
            "server stage copies {path}"
        );
    }
    // `tandem health` against a server started here: /healthz answers 200.
    let app = spawn_app(&[]).await;
    let addr = app.addr;
    let status = tokio::task::spawn_blocking(move || {
        tandem::ops::probe::probe(addr, "/healthz", Duration::from_secs(3))
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(status, 200);
}
