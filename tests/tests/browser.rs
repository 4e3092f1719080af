//! The observer page in a real browser: three nodes with supervised workers, seen from one
//! page; a worker killed from the page, and its restart seen there. A screenshot of the
//! page is left in `target/observer.png`.
//!
//! Needs Chromium and chromedriver; without them it skips, saying so, unless
//! `ACTORS_REQUIRE_CHROMIUM` is set (as `.ci/run` sets it).

use std::time::Duration;

use actors::rt::block_on;
use actors::supervisor::{ChildSpec, Strategy, Supervisor};
use actors_integration::browser::Browser;
use actors_integration::*;
use actors_net::prelude::*;

const WAIT: Duration = Duration::from_secs(20);

#[actor]
#[derive(Debug)]
struct Worker {
    jobs: u64,
}

#[actor(debug)]
impl Worker {
    #[handle]
    fn work(&mut self) -> u64 {
        self.jobs += 1;
        self.jobs
    }
}

#[test]
fn the_page_shows_the_cluster_and_a_kill_from_it_restarts_a_worker() {
    let Some(browser) = Browser::start("the observer's page test") else {
        return;
    };
    block_on(async {
        let nodes = cluster(3).await;
        for node in &nodes {
            Supervisor::new(Strategy::OneForOne)
                .child(ChildSpec::new("worker", || Worker { jobs: 0 }).name("worker"))
                .start(node)
                .await
                .unwrap();
            let worker: Pid<Worker> = node.whereis("worker").unwrap();
            worker.work().await.unwrap();
        }
        let c = &nodes[2];
        let worker: Pid<Worker> = c.whereis("worker").unwrap();
        // Named on b, as c's worker is killed below, and the page may be run twice.
        let named: Pid<Worker> = nodes[1].whereis("worker").unwrap();
        nodes[0]
            .global()
            .register("the-worker", &named)
            .await
            .unwrap();
        nodes[0]
            .groups()
            .join("workers", &nodes[0].whereis::<Worker>("worker").unwrap())
            .await
            .unwrap();
        let observer = nodes[0]
            .observer("127.0.0.1:0")
            .actions(true)
            .every(Duration::from_millis(200))
            .start()
            .await
            .unwrap();
        let (url, names) = (
            observer.url(),
            nodes
                .iter()
                .map(|n| n.name().to_string())
                .collect::<Vec<_>>(),
        );
        let c_name = c.name().to_string();
        let mut browser = browser;
        let shot = actors::rt::spawn_blocking(move || browser.run(|browser| {
            browser.open(&url);
            // All three nodes, as buttons and in the graph.
            let listed = format!(
                "return JSON.stringify([...document.querySelectorAll('#nodes button')].map(b => b.dataset.node)) === {:?};",
                serde_json::to_string(&names).unwrap()
            );
            browser.until("the three nodes", WAIT, &listed);
            browser.until(
                "the graph's three nodes and their three connections",
                WAIT,
                "return document.querySelectorAll('#graph circle').length === 3 \
                 && document.querySelectorAll('#graph line').length === 3;",
            );
            // The global name.
            browser.until(
                "the global name",
                WAIT,
                "return !!document.querySelector('#names tr[data-global-name=\"the-worker\"]');",
            );
            // c's supervision tree, with its worker's restarts so far (none, unless a run of
            // the page before this one, in a tab that crashed, killed it already).
            browser.click(&format!("#nodes button[data-node=\"{c_name}\"]"));
            browser.until(
                "c's tree",
                WAIT,
                "return !!document.querySelector('#trees li[data-child=\"worker\"]');",
            );
            let restarts = browser
                .eval("return document.querySelector('#trees li[data-child=\"worker\"]').dataset.restarts;");
            let restarts: u64 = restarts.as_str().and_then(|r| r.parse().ok()).expect("a count");
            // The worker in full, with its state; then killed from the page.
            browser.click("#trees li[data-child=\"worker\"] .pid");
            browser.until(
                "the worker's state",
                WAIT,
                "return /jobs: \\d/.test(document.getElementById('detail-state').textContent);",
            );
            browser.until(
                "the kill button",
                WAIT,
                "return !document.getElementById('kill').hidden;",
            );
            browser.click("#kill");
            browser.until(
                "the worker's restart",
                WAIT,
                &format!(
                    "const w = document.querySelector('#trees li[data-child=\"worker\"]'); \
                     return !!w && w.dataset.restarts === '{}';",
                    restarts + 1
                ),
            );
            browser.screenshot()
        }))
        .await;
        assert!(shot.starts_with(b"\x89PNG"), "a PNG");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/observer.png");
        std::fs::write(&path, &shot).unwrap();
        eprintln!("the page as the test left it: {}", path.display());
        // The restart the page showed is the node's.
        let again: Pid<Worker> = c.whereis("worker").unwrap();
        assert_ne!(again, worker);
    });
}
