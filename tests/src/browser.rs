//! A headless Chromium driven over the WebDriver protocol (chromedriver), for tests of pages
//! that nodes serve. Without Chromium and chromedriver the tests skip, saying what to
//! install ([`Browser::start`] gives `None`); where `ACTORS_REQUIRE_CHROMIUM` is set (as
//! `.ci/run` sets it, after installing them) their absence fails the test instead.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What to install on Debian for these tests.
pub const INSTALL: &str = "Chromium and chromedriver (apt-get install chromium chromium-driver)";

/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn program(names: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
            .map(|p| p.to_string_lossy().into_owned())
    })
}

/// A browser session, ended (and its driver stopped) when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    profile: std::path::PathBuf,
    log: std::path::PathBuf,
    chromium: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (after one line saying what is
    /// missing) when they are not installed, unless `ACTORS_REQUIRE_CHROMIUM` is set.
    pub fn start(test: &str) -> Option<Browser> {
        let (Some(chromium), Some(driver)) = (
            program(&["chromium", "chromium-browser", "google-chrome"]),
            program(&["chromedriver"]),
        ) else {
            assert!(
                std::env::var_os("ACTORS_REQUIRE_CHROMIUM").is_none(),
                "{test} needs {INSTALL}, and ACTORS_REQUIRE_CHROMIUM is set"
            );
            let _ = writeln!(std::io::stderr(), "skipped {test}: needs {INSTALL}");
            return None;
        };
        let port = crate::free_ports(1)[0];
        let profile =
            std::env::temp_dir().join(format!("actors-browser-{}-{port}", std::process::id()));
        // Chromium's own log goes where its driver's does: read back when a tab crashes.
        let log = profile.with_extension("log");
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--enable-chrome-logs")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file for chromedriver"))
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            profile,
            log,
            chromium,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while browser.request("GET", "/status", None).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
        browser.new_session();
        Some(browser)
    }

    fn new_session(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &format!("/session/{}", self.session), None);
        }
        // As Chromium runs headless in a closed sandbox: no first-run pages, no calls home.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1100",
            "--enable-logging=stderr",
            &format!("--user-data-dir={}", self.profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": self.chromium, "args": args},
        }}});
        let created = self
            .request("POST", "/session", Some(caps))
            .expect("a browser session");
        self.session = created["value"]["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
    }

    /// Runs `scenario` against the page; if Chromium's tab crashes under it (the browser
    /// failing, not the page's assertions), says so with the end of Chromium's log and runs it
    /// once more in a new session. A scenario that crashes the tab twice fails.
    pub fn run<T>(&mut self, scenario: impl Fn(&Browser) -> T) -> T {
        use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
        match catch_unwind(AssertUnwindSafe(|| scenario(self))) {
            Ok(value) => value,
            Err(panic) => {
                let text = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("");
                if !text.contains("tab crashed") {
                    resume_unwind(panic);
                }
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                let _ = writeln!(
                    std::io::stderr(),
                    "Chromium's tab crashed; its log ended:\n{}\nrunning the page once more",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
                self.new_session();
                scenario(self)
            }
        }
    }

    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let answer = match (method, body) {
            ("GET", _) => agent.get(&url).call(),
            ("DELETE", _) => agent.delete(&url).call(),
            (_, body) => agent
                .post(&url)
                .send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut answer = answer.map_err(|e| e.to_string())?;
        let status = answer.status();
        let value: Value = answer.body_mut().read_json().map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status} {value}"));
        }
        Ok(value)
    }

    fn session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        match self.request(method, &path, body) {
            Ok(v) => v["value"].clone(),
            Err(e) => panic!("{e}"),
        }
    }

    /// Opens `url`.
    pub fn open(&self, url: &str) {
        self.session("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body) in the page and gives back what it returns.
    pub fn eval(&self, script: &str) -> Value {
        self.session(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Clicks the first element that `css` selects. A page that redraws itself may replace
    /// the element between finding and clicking it: then it is found again.
    pub fn click(&self, css: &str) {
        let mut tries = 0;
        loop {
            let found = self.session(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            );
            let id = found[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no element {css}: {found}"))
                .to_string();
            let path = format!("/session/{}/element/{id}/click", self.session);
            match self.request("POST", &path, Some(json!({}))) {
                Ok(_) => return,
                Err(e) if e.contains("stale element") && tries < 50 => tries += 1,
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Waits until `script` returns true in the page, for at most `limit`; panics saying
    /// `what` otherwise.
    pub fn until(&self, what: &str, limit: Duration, script: &str) {
        let deadline = Instant::now() + limit;
        while self.eval(script) != Value::Bool(true) {
            assert!(
                Instant::now() < deadline,
                "waited {limit:?} in the page for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A screenshot of the page, as PNG.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let shot = self.session("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().expect("base64"))
            .expect("a PNG")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
        let _ = std::fs::remove_file(&self.log);
    }
}
