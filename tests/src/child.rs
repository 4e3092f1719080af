//! Nodes in child OS processes, which tests can kill (`SIGKILL`) or freeze (`SIGSTOP`).
//!
//! A [`ChildNode`] is always killed and reaped when dropped, also when a test fails.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A child's output, line by line, read by a thread of its own that keeps draining it, so
/// the child never blocks on a full pipe.
pub fn lines(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Sends `sig` (`-STOP`, `-CONT`) to process `pid` with kill(1).
pub(crate) fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .expect("kill(1) runs");
    assert!(status.success(), "kill {sig} failed");
}

/// A node running the `testnode` binary in its own process.
pub struct ChildNode {
    child: Child,
    /// The node's name, with the port it picked.
    pub name: String,
    frozen: bool,
    /// Commands to the node, for binaries that take them (`soaknode`).
    stdin: Option<ChildStdin>,
    /// The node's output, line by line, after `READY`.
    lines: mpsc::Receiver<String>,
    /// Numbers the commands, so that a late answer is never taken for the next one's.
    asked: u64,
}

impl ChildNode {
    /// Starts `bin` (the `testnode` binary: `env!("CARGO_BIN_EXE_testnode")`) as a node named
    /// `name` (port 0 picks one), connected to `connect`, and waits until it says it is ready.
    pub fn start(bin: &str, name: &str, connect: &[&str], extra: &[&str]) -> ChildNode {
        Self::start_logged(bin, name, connect, extra, None)
    }

    /// As [`ChildNode::start`], with the node's log (stderr) appended to `log` if given.
    pub fn start_logged(
        bin: &str,
        name: &str,
        connect: &[&str],
        extra: &[&str],
        log: Option<&Path>,
    ) -> ChildNode {
        Self::launch(Command::new(bin), name, connect, extra, log)
    }

    /// As [`ChildNode::start`], in the network namespace `netns` (`ip netns exec`, which
    /// becomes the program: the process is the node's).
    pub fn start_in(
        netns: &str,
        bin: &str,
        name: &str,
        connect: &[&str],
        extra: &[&str],
    ) -> ChildNode {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns, bin]);
        Self::launch(cmd, name, connect, extra, None)
    }

    fn launch(
        mut cmd: Command,
        name: &str,
        connect: &[&str],
        extra: &[&str],
        log: Option<&Path>,
    ) -> ChildNode {
        cmd.arg("--name")
            .arg(name)
            .arg("--cookie")
            .arg(crate::COOKIE)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        match log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("the log file opens");
                cmd.stderr(file);
            }
            None => {
                cmd.stderr(Stdio::inherit());
            }
        }
        for peer in connect {
            cmd.arg("--connect").arg(peer);
        }
        let mut child = cmd.spawn().expect("the test node binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take();
        let rx = lines(stdout);
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
            stdin,
            lines: rx,
            asked: 0,
        }
    }

    /// Sends a command line, numbered (`<n> <command>`), and returns the answer the node
    /// gives with the same number (`<n> <answer>`), within `limit`. Answers to earlier
    /// commands that came too late are passed over.
    pub fn ask(&mut self, command: &str, limit: Duration) -> Option<String> {
        self.asked += 1;
        let n = self.asked;
        let stdin = self.stdin.as_mut()?;
        writeln!(stdin, "{n} {command}").ok()?;
        stdin.flush().ok()?;
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(answer) = line.strip_prefix(&format!("{n} ")) {
                return Some(answer.to_string());
            }
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
        signal(self.pid(), sig);
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
