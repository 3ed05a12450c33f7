//! A small TCP load balancer for the deployment tests, standing in for the
//! HAProxy of `docker-compose.yml`: it polls every backend's `/readyz` (like
//! `option httpchk GET /readyz`), sends each new connection to the next ready
//! backend in turn (trying the next one when a connect fails, like
//! `option redispatch`), and passes bytes through untouched, WebSocket
//! upgrades included.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How often each backend's `/readyz` is polled.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// A running balancer; stops (with every connection it passes) when dropped.
pub struct Balancer {
    /// Where clients connect.
    pub addr: SocketAddr,
    backends: Vec<SocketAddr>,
    ready: Arc<Vec<AtomicBool>>,
    picks: Arc<Mutex<Vec<usize>>>,
    stop: CancellationToken,
}

impl Balancer {
    /// Starts a balancer on 127.0.0.1:0 in front of `backends`, once it has
    /// checked each of them.
    pub async fn start(backends: Vec<SocketAddr>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind balancer");
        let addr = listener.local_addr().expect("balancer address");
        let ready: Arc<Vec<AtomicBool>> =
            Arc::new(backends.iter().map(|_| AtomicBool::new(false)).collect());
        let picks = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .expect("http client");
        check_all(&http, &backends, &ready).await;
        tokio::spawn(health_checks(
            http,
            backends.clone(),
            ready.clone(),
            stop.clone(),
        ));
        tokio::spawn(accept_loop(
            listener,
            backends.clone(),
            ready.clone(),
            picks.clone(),
            stop.clone(),
        ));
        Self {
            addr,
            backends,
            ready,
            picks,
            stop,
        }
    }

    /// The backend index of every connection passed so far, in order.
    pub fn picks(&self) -> Vec<usize> {
        self.picks.lock().unwrap().clone()
    }

    /// Whether the last health check found backend `index` ready.
    pub fn is_ready(&self, index: usize) -> bool {
        self.ready[index].load(Ordering::SeqCst)
    }

    /// The backend behind `addr` (its index).
    pub fn index_of(&self, addr: SocketAddr) -> usize {
        self.backends
            .iter()
            .position(|b| *b == addr)
            .expect("a backend of this balancer")
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn check_all(http: &reqwest::Client, backends: &[SocketAddr], ready: &[AtomicBool]) {
    for (i, backend) in backends.iter().enumerate() {
        let ok = match http.get(format!("http://{backend}/readyz")).send().await {
            Ok(response) => response.status() == reqwest::StatusCode::OK,
            Err(_) => false,
        };
        ready[i].store(ok, Ordering::SeqCst);
    }
}

async fn health_checks(
    http: reqwest::Client,
    backends: Vec<SocketAddr>,
    ready: Arc<Vec<AtomicBool>>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(CHECK_INTERVAL) => check_all(&http, &backends, &ready).await,
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    backends: Vec<SocketAddr>,
    ready: Arc<Vec<AtomicBool>>,
    picks: Arc<Mutex<Vec<usize>>>,
    stop: CancellationToken,
) {
    let next = AtomicUsize::new(0);
    loop {
        let client = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => client,
                Err(_) => continue,
            },
        };
        let start = next.fetch_add(1, Ordering::SeqCst);
        // Ready backends in turn; none ready (or none answering): the client
        // is dropped, as HAProxy answers 503 with no server up.
        let mut upstream = None;
        for step in 0..backends.len() {
            let i = (start + step) % backends.len();
            if !ready[i].load(Ordering::SeqCst) {
                continue;
            }
            if let Ok(stream) = TcpStream::connect(backends[i]).await {
                upstream = Some((i, stream));
                break;
            }
        }
        let Some((index, mut server)) = upstream else {
            continue;
        };
        picks.lock().unwrap().push(index);
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut client = client;
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
            }
        });
    }
}
