//! Real Erlang nodes for the tests that join a Rust node to a BEAM cluster: `erl` from
//! OTP (Debian's `erlang-base`), running `tests/erlang/rust_peer.erl`, compiled by `erlc`
//! once per test run.
//!
//! On a machine without Erlang these tests skip, each with one line saying what is missing
//! ([`present`]); where `ACTORS_REQUIRE_ERLANG` is set (as `.ci/run` sets it) a missing
//! Erlang fails them instead, so that CI cannot pass by skipping.
//!
//! Each test's Rust node serves an EPMD of its own on a free port (`epmd_port(0)`), and the
//! Erlang nodes register with it (`ERL_EPMD_PORT`), so tests never meet another run's nodes,
//! or a system EPMD.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// What a machine without Erlang is told to install.
const INSTALL: &str = "Erlang/OTP's erl and erlc (apt-get install erlang-base)";

/// Whether `erl` and `erlc` run here. A test that needs them begins with
/// `if !erlang::present("test name") { return; }`: without them it prints one line naming the
/// test and what to install, and passes, unless `ACTORS_REQUIRE_ERLANG` is set, when it panics.
pub fn present(test: &str) -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| on_path("erl") && on_path("erlc"));
    if !found {
        assert!(
            std::env::var_os("ACTORS_REQUIRE_ERLANG").is_none(),
            "{test} needs {INSTALL}, and ACTORS_REQUIRE_ERLANG is set"
        );
        // Past the test harness's capture of `eprintln!`, so the line shows in a passing run.
        let _ = writeln!(std::io::stderr(), "skipped {test}: needs {INSTALL}");
    }
    found
}

/// What a machine without Elixir is told to install.
const INSTALL_ELIXIR: &str = "Elixir (apt-get install elixir)";

/// Whether `elixir` runs here, besides Erlang; as [`present`], but for tests that also run
/// Elixir.
pub fn elixir_present(test: &str) -> bool {
    if !present(test) {
        return false;
    }
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| on_path("elixir"));
    if !found {
        assert!(
            std::env::var_os("ACTORS_REQUIRE_ERLANG").is_none(),
            "{test} needs {INSTALL_ELIXIR}, and ACTORS_REQUIRE_ERLANG is set"
        );
        let _ = writeln!(std::io::stderr(), "skipped {test}: needs {INSTALL_ELIXIR}");
    }
    found
}

/// Whether `program` is an executable file in a directory of `PATH`.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The directory holding the compiled modules of `tests/erlang`.
fn compiled() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("erlang");
        let out = std::env::temp_dir().join(format!("actors-erlang-{}", std::process::id()));
        std::fs::create_dir_all(&out).expect("a directory for the compiled Erlang module");
        let sources: Vec<PathBuf> = std::fs::read_dir(&src)
            .expect("tests/erlang is readable")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "erl"))
            .collect();
        let status = Command::new("erlc")
            .arg("-o")
            .arg(&out)
            .args(&sources)
            .status()
            .unwrap_or_else(|e| panic!("erlc does not run ({e}): these tests need {INSTALL}"));
        assert!(status.success(), "the Erlang modules compile");
        out
    })
}

/// An `erl` node, killed when dropped.
pub struct ErlNode {
    child: Child,
    /// `name@127.0.0.1`.
    pub name: String,
    lines: mpsc::Receiver<String>,
    frozen: bool,
}

impl ErlNode {
    /// Starts `erl -name <name>@127.0.0.1 -setcookie <cookie>` registering with the EPMD on
    /// `epmd_port`, running `rust_peer:start()` (which registers `kv` and `driver`) and then
    /// `eval`, if given; waits until the module says it is ready.
    pub fn start(name: &str, cookie: &str, epmd_port: u16, eval: Option<&str>) -> ErlNode {
        Self::start_module("rust_peer", name, cookie, epmd_port, eval)
    }

    /// As [`ErlNode::start`], running `module:start()` of `tests/erlang` instead.
    pub fn start_module(
        module: &str,
        name: &str,
        cookie: &str,
        epmd_port: u16,
        eval: Option<&str>,
    ) -> ErlNode {
        Self::start_ticking(module, name, cookie, epmd_port, eval, 60)
    }

    /// As [`ErlNode::start_module`], with `net_ticktime` set to `ticktime` seconds.
    pub fn start_ticking(
        module: &str,
        name: &str,
        cookie: &str,
        epmd_port: u16,
        eval: Option<&str>,
        ticktime: u32,
    ) -> ErlNode {
        let full = format!("{name}@127.0.0.1");
        let mut script = format!("{module}:start()");
        if let Some(e) = eval {
            script.push_str(", ");
            script.push_str(e);
        }
        script.push('.');
        let mut child = Command::new("erl")
            .args([
                "-noshell",
                "-start_epmd",
                "false",
                "-name",
                &full,
                "-setcookie",
                cookie,
            ])
            .args(["-kernel", "net_ticktime", &ticktime.to_string()])
            .arg("-pa")
            .arg(compiled())
            .args(["-eval", &script])
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("erl does not run ({e}): these tests need {INSTALL}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let rx = crate::child::lines(stdout);
        let mut node = ErlNode {
            child,
            name: full,
            lines: rx,
            frozen: false,
        };
        let ready = node.line(Duration::from_secs(30));
        assert_eq!(
            ready.as_deref(),
            Some("ready"),
            "erl node {name} did not start"
        );
        node
    }

    /// The next line the node prints, within `limit`.
    pub fn line(&mut self, limit: Duration) -> Option<String> {
        self.lines.recv_timeout(limit).ok()
    }

    /// `SIGSTOP`: the node freezes, its sockets open and silent.
    pub fn freeze(&mut self) {
        crate::child::signal(self.child.id(), "-STOP");
        self.frozen = true;
    }

    /// `SIGKILL`.
    pub fn kill(&mut self) {
        if self.frozen {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(self.child.id().to_string())
                .status();
            self.frozen = false;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ErlNode {
    fn drop(&mut self) {
        self.kill();
    }
}
