//! A real local Redis Cluster for the cluster tests: three masters (and,
//! for the failover test, one replica each) started with
//! `redis-server --cluster-enabled yes` on free loopback ports, joined with
//! `redis-cli --cluster create --cluster-yes`, and torn down with the test
//! process (the servers come from `redis_harness::launch_with`). One shared
//! three-master cluster serves the contract suite and the two-node tests;
//! every test uses its own key prefix, nothing is flushed.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::redis_harness::{free_port, launch_with, RedisServer};

/// A running cluster.
pub struct Cluster {
    /// Every server, masters first (as created).
    pub servers: Vec<RedisServer>,
    /// Comma-separated `127.0.0.1:<port>` seeds.
    pub seeds: String,
}

static SHARED: OnceLock<Cluster> = OnceLock::new();

/// The shared three-master cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    SHARED.get_or_init(|| start_cluster("cluster", 0))
}

/// Starts three masters with `replicas` replicas each, and waits until the
/// cluster reports `cluster_state:ok` on every node.
pub fn start_cluster(name: &str, replicas: usize) -> Cluster {
    let count = 3 * (1 + replicas);
    let servers: Vec<RedisServer> = (0..count)
        .map(|i| {
            let port = free_port();
            // The bus port defaults to port + 10000, which may be taken or
            // past 65535: give it a free port of its own.
            let bus = free_port().to_string();
            let extra: Vec<String> = [
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                &bus,
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
                // A replica may be promoted however long its master was gone.
                "--cluster-replica-validity-factor",
                "0",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            launch_with(&format!("{name}-{i}"), port, false, &extra)
        })
        .collect();
    let addresses: Vec<String> = servers
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port))
        .collect();
    let status = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addresses)
        .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("redis-cli (from the redis-server package) runs");
    assert!(status.success(), "redis-cli --cluster create failed");
    let deadline = Instant::now() + Duration::from_secs(30);
    for server in &servers {
        loop {
            let info = cli(server.port, &["CLUSTER", "INFO"]);
            if info.contains("cluster_state:ok") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "cluster did not become ok: {info}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // Every node must know every slot's owner before clients come.
    wait_slots_agree(&servers, deadline);
    Cluster {
        servers,
        seeds: addresses.join(","),
    }
}

fn wait_slots_agree(servers: &[RedisServer], deadline: Instant) {
    loop {
        let views: Vec<String> = servers
            .iter()
            .map(|s| {
                let mut owners = masters_of(s.port);
                owners.sort();
                format!("{owners:?}")
            })
            .collect();
        if views.windows(2).all(|w| w[0] == w[1]) && !views[0].contains("[]") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nodes disagree on slots: {views:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `redis-cli -p port args…`, its output as text.
pub fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `(first slot, last slot, master port)` for every slot range, as `port`
/// sees it (from `CLUSTER NODES`: `id ip:port@bus flags master … slots…`).
pub fn masters_of(port: u16) -> Vec<(u16, u16, u16)> {
    let mut ranges = Vec::new();
    for line in cli(port, &["CLUSTER", "NODES"]).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 {
            continue;
        }
        let flags = fields[2];
        if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
            continue;
        }
        let Some(node_port) = fields[1]
            .split('@')
            .next()
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse::<u16>().ok())
        else {
            continue;
        };
        for slots in &fields[8..] {
            if slots.starts_with('[') {
                continue; // a slot being migrated
            }
            let (first, last) = slots.split_once('-').unwrap_or((slots, slots));
            if let (Ok(first), Ok(last)) = (first.parse(), last.parse()) {
                ranges.push((first, last, node_port));
            }
        }
    }
    ranges
}

/// The master port owning `slot`, as `port` sees it.
pub fn master_of_slot(port: u16, slot: u16) -> Option<u16> {
    masters_of(port)
        .into_iter()
        .find(|(a, b, _)| (*a..=*b).contains(&slot))
        .map(|(_, _, p)| p)
}

/// `CLUSTER KEYSLOT key`, asked of the server.
pub fn keyslot(port: u16, key: &str) -> u16 {
    cli(port, &["CLUSTER", "KEYSLOT", key])
        .parse()
        .expect("CLUSTER KEYSLOT answers a number")
}

/// Kills the redis-server on `port` with SIGKILL (no shutdown, no save).
pub fn kill9(port: u16) {
    let info = cli(port, &["INFO", "server"]);
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .map(|p| p.trim().to_owned())
        .expect("INFO server has process_id");
    let status = Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while super::redis_harness::ping(port) {
        assert!(
            Instant::now() < deadline,
            "redis-server on {port} survived kill -9"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The flags that put a node on `cluster` under `prefix`.
pub fn cluster_flags(cluster: &Cluster, prefix: &str) -> Vec<String> {
    [
        "--engine",
        "redis",
        "--redis-cluster-nodes",
        &cluster.seeds,
        "--redis-prefix",
        prefix,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
