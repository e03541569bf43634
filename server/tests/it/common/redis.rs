//! Private `redis-server` processes for tests that kill, restart, freeze or empty Redis (never
//! the shared one), and `redis-cli` against them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A private `redis-server` on its own port, killed (and reaped) on drop.
pub struct PrivateRedis {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    /// With `appendonly yes` (data survives a restart): its data directory.
    dir: Option<PathBuf>,
}

impl PrivateRedis {
    /// Without persistence (a restart loses everything).
    pub fn start(port: u16) -> PrivateRedis {
        let mut r = PrivateRedis {
            child: None,
            port,
            dir: None,
        };
        r.launch();
        r
    }

    /// With an append-only file fsynced on every write, in a fresh directory: a restart keeps
    /// the data.
    pub fn start_persistent(port: u16) -> PrivateRedis {
        let dir = std::env::temp_dir().join(format!("wp-redis-{}-{}", port, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("redis data dir");
        let mut r = PrivateRedis {
            child: None,
            port,
            dir: Some(dir),
        };
        r.launch();
        r
    }

    fn launch(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--save", ""]);
        match &self.dir {
            Some(dir) => {
                cmd.args([
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                    "--dir",
                    dir.to_str().expect("utf-8 temp dir"),
                ]);
            }
            None => {
                cmd.args(["--appendonly", "no"]);
            }
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for this test");
        self.child = Some(child);
        for _ in 0..250 {
            if cli(self.port, &["PING"]) == "PONG" {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("private redis did not start");
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// `kill -9` (no shutdown, no final save).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (and data directory).
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// `kill -STOP` (`true`) or `kill -CONT` (`false`).
    pub fn freeze(&self, stop: bool) {
        let sig = if stop { "-STOP" } else { "-CONT" };
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill {sig} failed");
    }

    /// `redis-cli -p <port> args...`.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(self.port, args)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            // A frozen process must be resumed to die cleanly.
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
        }
        self.kill();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs `redis-cli -p port args...` and returns its trimmed output (newlines as spaces).
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli must be installed for this test");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
