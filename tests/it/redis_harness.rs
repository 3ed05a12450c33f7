//! A real `redis-server` for the Redis tests: started once per test binary on
//! a free port in a temp dir, without persistence, and killed when the test
//! process ends (its `sh` wrapper waits on a pipe this process holds open).
//! Every test uses its own key prefix; nothing is ever flushed.
//! Durability tests start private servers with an append-only file
//! ([`start_server_aof`]) and restart them on the same port and directory.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The shared server.
pub struct RedisServer {
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
    /// The port.
    pub port: u16,
    /// The server's working directory (its append-only files, for AOF servers).
    pub dir: std::path::PathBuf,
    /// Kept so the watchdog pipe stays open for the life of the process.
    _child: Mutex<Child>,
}

static SERVER: OnceLock<RedisServer> = OnceLock::new();

/// The shared server, started on first use.
pub fn server() -> &'static RedisServer {
    SERVER.get_or_init(|| start_server("shared"))
}

/// URL of the shared server.
pub fn redis_url() -> String {
    server().url.clone()
}

/// The flags that put a node on the Redis at `url` under `prefix`.
pub fn redis_flags<'a>(url: &'a str, prefix: &'a str) -> [&'a str; 6] {
    [
        "--engine",
        "redis",
        "--redis-url",
        url,
        "--redis-prefix",
        prefix,
    ]
}

/// A node on the shared Redis under `prefix`, with `extra` flags.
pub async fn redis_app(prefix: &str, extra: &[&str]) -> crate::helpers::TestApp {
    let url = redis_url();
    let mut args = redis_flags(&url, prefix).to_vec();
    args.extend_from_slice(extra);
    crate::helpers::spawn_app(&args).await
}

/// A fresh key prefix for one test.
pub fn unique_prefix() -> String {
    format!("t{}", uuid::Uuid::new_v4().simple())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// Starts a `redis-server` that dies with this process. Panics with the
/// install hint when the binary is missing.
pub fn start_server(name: &str) -> RedisServer {
    let port = free_port();
    start_server_on(name, port)
}

/// Like [`start_server`], on a given port (used to restart a server).
pub fn start_server_on(name: &str, port: u16) -> RedisServer {
    launch(name, port, false)
}

/// A private server with the append-only file on and fsynced on every write
/// (`--appendonly yes --appendfsync always`), in a fresh directory.
pub fn start_server_aof(name: &str) -> RedisServer {
    let port = free_port();
    let dir = data_dir(name, port);
    let _ = std::fs::remove_dir_all(&dir);
    launch(name, port, true)
}

/// Restarts an AOF server stopped with [`RedisServer::stop`]: same port, same
/// directory, so Redis reloads its append-only file.
pub fn start_server_aof_on(name: &str, port: u16) -> RedisServer {
    launch(name, port, true)
}

fn data_dir(name: &str, port: u16) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tandem-redis-{name}-{}-{port}", std::process::id()))
}

fn launch(name: &str, port: u16, aof: bool) -> RedisServer {
    launch_with(name, port, aof, &[])
}

/// Starts a `redis-server` like [`start_server`], with `extra` arguments
/// (the cluster harness turns cluster mode on with them).
pub fn launch_with(name: &str, port: u16, aof: bool, extra: &[String]) -> RedisServer {
    if Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        panic!(
            "redis-server is not installed, but the Redis engine tests need it: \
             install it with `sudo apt-get install redis-server` (or put redis-server on PATH)"
        );
    }
    let dir = data_dir(name, port);
    std::fs::create_dir_all(&dir).expect("temp dir for redis-server");
    // The server runs in the background of a shell that waits on its stdin:
    // when this process exits (however it exits), the pipe closes and the
    // shell kills the server.
    let child = Command::new("sh")
        .arg("-c")
        .arg(
            "redis-server \"$@\" & pid=$!; read _ ; kill $pid; wait $pid; \
             if [ -n \"$TANDEM_REDIS_SCRATCH\" ]; then rm -rf \"$TANDEM_REDIS_SCRATCH\"; fi",
        )
        .arg("sh")
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", if aof { "yes" } else { "no" }])
        .args(["--appendfsync", "always"])
        .args(["--daemonize", "no"])
        .args(extra)
        .arg("--dir")
        .arg(&dir)
        // Servers without an append-only file leave nothing worth keeping:
        // their directory goes with them. AOF servers keep theirs for restarts.
        .env(
            "TANDEM_REDIS_SCRATCH",
            if aof {
                std::ffi::OsStr::new("")
            } else {
                dir.as_os_str()
            },
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sh for redis-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if ping(port) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "redis-server on port {port} did not answer PING within 10s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    RedisServer {
        url: format!("redis://127.0.0.1:{port}"),
        port,
        dir,
        _child: Mutex::new(child),
    }
}

impl RedisServer {
    /// Stops this server (closing the watchdog pipe: the shell sends SIGTERM,
    /// a graceful shutdown that fsyncs the append-only file) and waits until
    /// it is gone.
    pub fn stop(self) {
        let mut child = self._child.into_inner().unwrap_or_else(|p| p.into_inner());
        drop(child.stdin.take());
        let _ = child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while ping(self.port) {
            assert!(Instant::now() < deadline, "redis-server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The append-only file Redis (7+) appends writes to, in the server's `dir`.
pub fn aof_incr_file(dir: &std::path::Path) -> std::path::PathBuf {
    let aof_dir = dir.join("appendonlydir");
    std::fs::read_dir(&aof_dir)
        .unwrap_or_else(|e| panic!("no {}: {e}", aof_dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .unwrap_or_else(|| panic!("no *.incr.aof in {}", aof_dir.display()))
}

/// Whether something answers PING on `port`.
pub fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(stream.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}
