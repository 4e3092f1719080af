//! Nodes in child OS processes, which tests can kill (`SIGKILL`) or freeze (`SIGSTOP`).
//!
//! A [`ChildNode`] is always killed and reaped when dropped, also when a test fails.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A node running the `testnode` binary in its own process.
pub struct ChildNode {
    child: Child,
    /// The node's name, with the port it picked.
    pub name: String,
    frozen: bool,
}

impl ChildNode {
    /// Starts `bin` (the `testnode` binary: `env!("CARGO_BIN_EXE_testnode")`) as a node named
    /// `name` (port 0 picks one), connected to `connect`, and waits until it says it is ready.
    pub fn start(bin: &str, name: &str, connect: &[&str], extra: &[&str]) -> ChildNode {
        let mut cmd = Command::new(bin);
        cmd.arg("--name")
            .arg(name)
            .arg("--cookie")
            .arg(crate::COOKIE)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for peer in connect {
            cmd.arg("--connect").arg(peer);
        }
        let mut child = cmd.spawn().expect("the test node binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("test node {name} did not report ready");
            }
        };
        let name = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("unexpected first line from {name}: {line:?}"))
            .to_string();
        ChildNode {
            child,
            name,
            frozen: false,
        }
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `SIGKILL`: the process dies at once, and its sockets close.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(sig)
            .arg(self.pid().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill {sig} failed");
    }

    /// `SIGSTOP`: the process freezes; its sockets stay open but nothing answers. Returns
    /// once the kernel reports it stopped.
    pub fn freeze(&mut self) {
        self.signal("-STOP");
        self.frozen = true;
        let stat = format!("/proc/{}/stat", self.pid());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            // The state is the field after the parenthesised command name.
            let state = std::fs::read_to_string(&stat)
                .ok()
                .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.chars().next()))
                .flatten();
            if state == Some('T') {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the process did not stop"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// `SIGCONT`: the process runs again.
    pub fn thaw(&mut self) {
        self.signal("-CONT");
        self.frozen = false;
    }
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        if self.frozen {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(self.pid().to_string())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
