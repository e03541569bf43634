//! A private local Redis Cluster for tests: 3 primaries + 3 replicas (`redis-server
//! --cluster-enabled yes` on free loopback ports in a temp dir, `redis-cli --cluster create`),
//! torn down on drop (also when the test fails).

use super::redis::{cli, free_port};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One node.
pub struct Node {
    /// Its port.
    pub port: u16,
    child: Option<Child>,
}

/// A running cluster; every node is killed and the directory removed on drop.
pub struct LocalCluster {
    /// The nodes, primaries first as created.
    pub nodes: Vec<Node>,
    dir: PathBuf,
}

impl LocalCluster {
    /// Starts 6 nodes, creates the cluster with one replica per primary and waits for
    /// `cluster_state:ok` on every node and every replica attached and in sync.
    ///
    /// One cluster starts at a time in a test binary (18 `redis-server`s forking their first
    /// syncs at once on a 2-core CI machine is what a start must not depend on), and a start
    /// that does not come up is torn down and tried again on fresh ports, with what the nodes
    /// reported printed, up to 3 times.
    pub fn start() -> LocalCluster {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut failures = Vec::new();
        for attempt in 1..=3 {
            match Self::try_start() {
                Ok(cluster) => return cluster,
                Err(why) => {
                    eprintln!("local cluster start {attempt} of 3 failed: {why}");
                    failures.push(why);
                }
            }
        }
        panic!("the local Redis Cluster did not come up: {failures:?}");
    }

    fn try_start() -> Result<LocalCluster, String> {
        let dir =
            std::env::temp_dir().join(format!("wp-cluster-{}-{}", std::process::id(), free_port()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let mut cluster = LocalCluster {
            nodes: Vec::new(),
            dir,
        };
        for _ in 0..6 {
            let port = node_port(&cluster.nodes);
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &format!("nodes-{port}.conf"),
                    "--cluster-node-timeout",
                    "1000",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    cluster.dir.to_str().expect("utf-8 temp dir"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed for the cluster tests");
            cluster.nodes.push(Node {
                port,
                child: Some(child),
            });
        }
        for n in &cluster.nodes {
            try_wait_for(|| cli(n.port, &["PING"]) == "PONG", "node answers")?;
        }
        let mut args = vec!["--cluster".to_string(), "create".to_string()];
        args.extend(
            cluster
                .nodes
                .iter()
                .map(|n| format!("127.0.0.1:{}", n.port)),
        );
        args.extend(["--cluster-replicas", "1", "--cluster-yes"].map(String::from));
        let out = Command::new("redis-cli")
            .args(&args)
            .output()
            .expect("redis-cli must be installed for the cluster tests");
        if !out.status.success() {
            return Err(format!(
                "cluster create failed: {}",
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        let report = |what: String| {
            let nodes = cluster
                .nodes
                .iter()
                .map(|n| format!("{}: {}", n.port, cli(n.port, &["CLUSTER", "NODES"])))
                .collect::<Vec<_>>()
                .join(" | ");
            format!("{what}; the nodes said: {nodes}")
        };
        for n in &cluster.nodes {
            try_wait_for(
                || cli(n.port, &["CLUSTER", "INFO"]).contains("cluster_state:ok"),
                "cluster_state:ok",
            )
            .map_err(report)?;
        }
        // Every replica attached to its primary, as every node sees it.
        for n in &cluster.nodes {
            try_wait_for(
                || cli(n.port, &["CLUSTER", "NODES"]).matches("slave").count() == 3,
                "replicas attached",
            )
            .map_err(report)?;
        }
        // Every replica has finished its initial sync (a replica that has not may not take
        // over from its primary).
        for n in &cluster.nodes {
            try_wait_for(
                || {
                    let info = cli(n.port, &["INFO", "replication"]);
                    info.contains("role:master") || info.contains("master_link_status:up")
                },
                "replicas in sync",
            )
            .map_err(report)?;
        }
        Ok(cluster)
    }

    /// `redis-cluster://127.0.0.1:<p>?node=...` with every node.
    pub fn url(&self) -> String {
        let mut url = format!("redis-cluster://127.0.0.1:{}", self.nodes[0].port);
        for (i, n) in self.nodes.iter().enumerate().skip(1) {
            url.push(if i == 1 { '?' } else { '&' });
            url.push_str(&format!("node=127.0.0.1:{}", n.port));
        }
        url
    }

    /// The port of the primary that serves `key`'s slot, as the running nodes see it.
    pub fn primary_of(&self, key: &str) -> Option<u16> {
        let alive = self.alive();
        let slot: u16 = cli(*alive.first()?, &["CLUSTER", "KEYSLOT", key])
            .parse()
            .ok()?;
        for n in alive {
            let out = Command::new("redis-cli")
                .args(["-p", &n.to_string(), "CLUSTER", "NODES"])
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            for line in text.lines().filter(|l| l.contains("myself,master")) {
                for range in line.split_whitespace().skip(8) {
                    let (a, b) = range.split_once('-').unwrap_or((range, range));
                    if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                        if (a..=b).contains(&slot) {
                            return Some(n);
                        }
                    }
                }
            }
        }
        None
    }

    /// Ports of the nodes still running.
    pub fn alive(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
            .collect()
    }

    /// `kill -9` the node on `port`.
    pub fn kill(&mut self, port: u16) {
        for n in &mut self.nodes {
            if n.port == port {
                if let Some(mut c) = n.child.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
    }

    /// Waits until every running node reports `cluster_state:ok` and `key`'s slot is served by
    /// a primary other than `old` (after a kill: its replica took over).
    pub fn wait_failover(&self, key: &str, old: u16) -> u16 {
        let mut new = None;
        wait_for(
            || {
                let ok = self
                    .alive()
                    .iter()
                    .all(|&p| cli(p, &["CLUSTER", "INFO"]).contains("cluster_state:ok"));
                new = self.primary_of(key).filter(|&p| p != old);
                ok && new.is_some()
            },
            "failover",
        );
        new.expect("a new primary")
    }
}

impl LocalCluster {
    /// Waits until the primary on `port` has a replica that acknowledged everything written so
    /// far (`INFO replication`: the replica's `offset` equals `master_repl_offset`), so killing
    /// the primary loses nothing. A replica still in its first full sync holds no keys: killing
    /// the primary then would lose the sessions.
    pub fn wait_replicated(&self, port: u16) {
        wait_for(
            || {
                let out = Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "INFO", "replication"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                    .unwrap_or_default();
                let field = |name: &str| {
                    out.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim().to_owned())
                };
                let master = field("master_repl_offset:");
                let replica = field("slave0:").and_then(|v| {
                    v.split(',')
                        .find_map(|kv| kv.strip_prefix("offset=").map(str::to_owned))
                        .filter(|_| v.contains("state=online"))
                });
                master.is_some() && master == replica
            },
            "the replica to catch up",
        );
    }

    /// Moves `key`'s slot, with its keys, from its primary to another primary (`CLUSTER SETSLOT
    /// IMPORTING/MIGRATING`, `MIGRATE` of every key in the slot, `SETSLOT NODE` on every
    /// primary), as `redis-cli --cluster reshard` does. Returns `(from, to)` ports.
    pub fn migrate_slot_of(&self, key: &str) -> (u16, u16) {
        let from = self.primary_of(key).expect("a primary");
        let slot = cli(from, &["CLUSTER", "KEYSLOT", key]);
        let primaries: Vec<u16> = self
            .alive()
            .into_iter()
            .filter(|&p| cli(p, &["ROLE"]).starts_with("master"))
            .collect();
        let to = *primaries
            .iter()
            .find(|&&p| p != from)
            .expect("another primary");
        let from_id = cli(from, &["CLUSTER", "MYID"]);
        let to_id = cli(to, &["CLUSTER", "MYID"]);
        assert_eq!(
            cli(to, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id]),
            "OK"
        );
        assert_eq!(
            cli(from, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id]),
            "OK"
        );
        loop {
            let keys = cli(from, &["CLUSTER", "GETKEYSINSLOT", &slot, "100"]);
            if keys.is_empty() {
                break;
            }
            for k in keys.split_whitespace() {
                let port = to.to_string();
                let out = cli(from, &["MIGRATE", "127.0.0.1", &port, k, "0", "5000"]);
                assert!(out == "OK" || out == "NOKEY", "MIGRATE {k}: {out}");
            }
        }
        for p in [to, from]
            .into_iter()
            .chain(primaries.iter().copied().filter(|&p| p != to && p != from))
        {
            assert_eq!(cli(p, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]), "OK");
        }
        wait_for(|| self.primary_of(key) == Some(to), "the slot's new owner");
        (from, to)
    }
}

/// A free port whose cluster bus port (+10000) is free too, both below the kernel's
/// ephemeral range (32768 and up on Linux): a port taken from that range can be grabbed by
/// any outgoing connection (the nodes' own bus links, `redis-cli`, the servers under test)
/// between the moment it is found free and the moment the node binds it.
fn node_port(taken: &[Node]) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(2_654_435_761);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 12_000 + (seed.wrapping_add(n.wrapping_mul(7_919)) % 10_000) as u16;
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if taken.iter().all(|t| t.port != port) && free(port) && free(port + 10_000) {
            return port;
        }
    }
}

fn try_wait_for(mut ok: impl FnMut() -> bool, what: &str) -> Result<(), String> {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > Duration::from_secs(30) {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn wait_for(ok: impl FnMut() -> bool, what: &str) {
    if let Err(why) = try_wait_for(ok, what) {
        panic!("{why}");
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
