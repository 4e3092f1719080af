//! What a node serves over HTTP: its metrics to Prometheus, and the observer's page and API,
//! with the token, the loopback rule and the actions' switch.

use std::time::Duration;

use actors::rt::block_on;
use actors::supervisor::{ChildSpec, Strategy, Supervisor};
use actors_integration::http::{get, post};
use actors_integration::*;
use actors_net::metrics::HttpError;
use actors_net::prelude::*;

const WAIT: Duration = Duration::from_secs(10);

#[actor]
#[derive(Debug)]
struct Worker {
    jobs: u32,
}

#[actor(debug)]
impl Worker {
    #[handle]
    fn work(&mut self) -> u32 {
        self.jobs += 1;
        self.jobs
    }
    #[handle]
    fn crash(&self) {
        panic!("asked to")
    }
}

/// A supervisor on `node` with a worker registered there as "worker".
async fn supervised_worker(node: &Node) -> (Pid<Supervisor>, Pid<Worker>) {
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(ChildSpec::new("worker", || Worker { jobs: 0 }).name("worker"))
        .start(node)
        .await
        .unwrap();
    (sup, node.whereis("worker").unwrap())
}

/// The value of the metric line that starts with `series` (name and labels).
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn prometheus_reads_every_figure_of_the_node() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let endpoint = a.prometheus("127.0.0.1:0").start().await.unwrap();
        let (_sup, worker) = supervised_worker(a).await;
        for _ in 0..10 {
            worker.work().await.unwrap();
        }
        let _ = worker.crash().await;
        until("the restart", WAIT, || async {
            a.whereis::<Worker>("worker").is_some_and(|w| w != worker)
        })
        .await;
        let remote = counter_seen_from(a, b).await;
        remote.add(1).await.unwrap();
        a.ping(b.name()).await.unwrap();

        let url = format!("http://{}/metrics", endpoint.addr());
        let answer = get(&url, &[]).await;
        assert_eq!(answer.status, 200);
        assert!(
            answer
                .content_type
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let m = answer.body;
        let node = format!("{{node=\"{}\"}}", a.name());
        let of = |metric: &str| value(&m, &format!("{metric}{node}"));
        assert!(of("actors_processes").unwrap() >= 3.0, "{m}");
        assert_eq!(of("actors_restarts_total"), Some(1.0), "{m}");
        assert!(of("actors_messages_handled_total").unwrap() >= 11.0, "{m}");
        assert!(of("actors_spawned_total").unwrap() >= 4.0, "{m}");
        assert_eq!(of("actors_connections"), Some(1.0), "{m}");
        for metric in [
            "actors_dist_frames_sent_total",
            "actors_dist_frames_received_total",
            "actors_dist_bytes_sent_total",
            "actors_dist_bytes_received_total",
        ] {
            assert!(of(metric).unwrap() > 0.0, "{metric}: {m}");
        }
        assert!(of("actors_mailbox_messages").is_some(), "{m}");
        let peer = format!(
            "actors_dist_round_trip_seconds{{node=\"{}\",peer=\"{}\"}}",
            a.name(),
            b.name()
        );
        assert!(value(&m, &peer).unwrap() > 0.0, "{m}");
        // The calls above were timed: the histogram counts them, in buckets.
        let calls = value(&m, &format!("actors_call_duration_seconds_count{node}")).unwrap();
        assert!(calls >= 11.0, "{m}");
        assert!(m.contains("actors_call_duration_seconds_bucket{"), "{m}");

        assert_eq!(
            get(&format!("http://{}/", endpoint.addr()), &[])
                .await
                .status,
            404
        );
        let posted = post(&url, &[], "text/plain", "").await;
        assert_eq!(posted.status, 405);
    });
}

/// A counter on `on`, as `from` finds it.
async fn counter_seen_from(from: &Node, on: &Node) -> Pid<Counter> {
    on.register("c", on.spawn(Counter { n: 0 })).unwrap();
    from.whereis_on("c", on.name()).await.unwrap()
}

#[test]
fn endpoints_listen_on_loopback_unless_allowed() {
    block_on(async {
        let a = start("a").await;
        let refused = a.prometheus("0.0.0.0:0").start().await.err();
        assert!(
            matches!(refused, Some(HttpError::NotLoopback(_))),
            "{refused:?}"
        );
        let refused = a.observer("192.0.2.1:0").start().await.err();
        assert!(
            matches!(refused, Some(HttpError::NotLoopback(_))),
            "{refused:?}"
        );
        let bad = a.observer("somewhere").start().await.err();
        assert_eq!(bad, Some(HttpError::BadAddress("somewhere".into())));
        let by_name = a.observer("localhost:0").start().await.unwrap();
        assert!(by_name.addr().ip().is_loopback());
    });
}

#[test]
fn the_observer_answers_only_with_its_token() {
    block_on(async {
        let a = start("a").await;
        let observer = a.observer("127.0.0.1:0").start().await.unwrap();
        let base = format!("http://{}", observer.addr());
        let bearer = format!("Bearer {}", observer.token());

        assert_eq!(get(&format!("{base}/"), &[]).await.status, 401);
        assert_eq!(get(&format!("{base}/?token=nope"), &[]).await.status, 401);
        let page = get(&observer.url(), &[]).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("<title>observer</title>"));
        let cookie = page.cookie.expect("the token kept in a cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let cookie = cookie.split(';').next().unwrap().to_string();

        let snapshot = format!("{base}/api/snapshot");
        assert_eq!(get(&snapshot, &[]).await.status, 401);
        assert_eq!(
            get(&snapshot, &[("Authorization", "Bearer nope")])
                .await
                .status,
            401
        );
        assert_eq!(get(&snapshot, &[("Cookie", &cookie)]).await.status, 200);
        let answer = get(&snapshot, &[("Authorization", &bearer)]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json()["serving"], a.name());

        // The assets are no secret; what is not there, or not so asked, is said so.
        assert_eq!(get(&format!("{base}/observer.js"), &[]).await.status, 200);
        assert_eq!(get(&format!("{base}/nothing"), &[]).await.status, 404);
        assert_eq!(
            post(&format!("{base}/"), &[], "text/plain", "")
                .await
                .status,
            405
        );
        let no_pid = get(
            &format!("{base}/api/process"),
            &[("Authorization", &bearer)],
        )
        .await;
        assert_eq!(no_pid.status, 400);
        let unknown = get(
            &format!("{base}/api/process?pid=%23PID%3Cx%3E"),
            &[("Authorization", &bearer)],
        )
        .await;
        assert_eq!(
            (unknown.status, unknown.body.trim()),
            (
                404,
                "#PID<x> is not a process shown here (it may have ended)"
            )
        );
    });
}

#[test]
fn one_page_sees_every_node_its_trees_names_groups_and_a_state() {
    block_on(async {
        let nodes = cluster(3).await;
        let (a, c) = (&nodes[0], &nodes[2]);
        let (sup, worker) = supervised_worker(c).await;
        worker.work().await.unwrap();
        a.global().register("the-worker", &worker).await.unwrap();
        c.groups().join("workers", &worker).await.unwrap();
        let observer = a
            .observer("127.0.0.1:0")
            .every(Duration::from_millis(50))
            .start()
            .await
            .unwrap();
        let bearer = format!("Bearer {}", observer.token());
        let auth = [("Authorization", bearer.as_str())];
        let base = format!("http://{}", observer.addr());

        let snapshot = format!("{base}/api/snapshot");
        let shows_all = |s: &serde_json::Value| {
            let serving = &s["nodes"][0];
            serving["global_names"]
                .as_array()
                .is_some_and(|n| !n.is_empty())
                && serving["groups"]
                    .as_array()
                    .is_some_and(|g| g.iter().any(|g| g["group"] == "workers"))
        };
        until("the name and group to show", WAIT, || async {
            shows_all(&get(&snapshot, &auth).await.json())
        })
        .await;
        let s = get(&snapshot, &auth).await.json();
        let names: Vec<&str> = s["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, [a.name(), nodes[1].name(), c.name()]);
        let id = worker.logged().to_string();
        let on_c = s["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == c.name())
            .unwrap();
        assert_eq!(on_c["connections"].as_array().unwrap().len(), 2);
        let tree = on_c["trees"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["pid"]["id"] == sup.logged().to_string())
            .expect("c's tree");
        assert_eq!(tree["strategy"], "OneForOne");
        assert_eq!(tree["children"][0]["pid"]["id"], id);
        assert!(
            on_c["processes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["pid"]["id"] == id && p["name"] == "worker")
        );
        assert_eq!(s["nodes"][0]["global_names"][0]["pid"]["id"], id);

        let detail = get(&format!("{base}/api/process?pid={}", encode(&id)), &auth).await;
        assert_eq!(detail.status, 200, "{}", detail.body);
        let d = detail.json();
        assert_eq!(d["state"], "Worker {\n    jobs: 1,\n}");
        assert_eq!(d["parent"]["id"], sup.logged().to_string());
        assert_eq!(d["links"][0]["id"], sup.logged().to_string());

        // The same, live: the first event is a snapshot.
        let events = first_event(&format!("{base}/api/events"), &bearer).await;
        let live: serde_json::Value = serde_json::from_str(&events).unwrap();
        assert_eq!(live["nodes"].as_array().unwrap().len(), 3);
    });
}

/// The first server-sent event's data.
async fn first_event(url: &str, bearer: &str) -> String {
    let (url, bearer) = (url.to_string(), bearer.to_string());
    actors::rt::spawn_blocking(move || {
        use std::io::BufRead;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(WAIT))
            .build()
            .into();
        let r = agent
            .get(&url)
            .header("Authorization", &bearer)
            .call()
            .unwrap();
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        let mut lines = std::io::BufReader::new(r.into_body().into_reader()).lines();
        let line = lines.next().unwrap().unwrap();
        line.strip_prefix("data: ").expect("an event").to_string()
    })
    .await
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn actions_are_off_unless_enabled_and_a_kill_shows_as_a_restart() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let (_sup, worker) = supervised_worker(b).await;
        let id = worker.logged().to_string();
        let kill_body = format!("{{\"pid\":{}}}", serde_json::Value::String(id.clone()));

        let off = a.observer("127.0.0.1:0").start().await.unwrap();
        let bearer = format!("Bearer {}", off.token());
        let auth = [("Authorization", bearer.as_str())];
        get(&format!("http://{}/api/snapshot", off.addr()), &auth).await;
        let refused = post(
            &format!("http://{}/api/kill", off.addr()),
            &auth,
            "application/json",
            &kill_body,
        )
        .await;
        assert_eq!(refused.status, 403);
        assert!(
            b.whereis::<Worker>("worker") == Some(worker.clone()),
            "not killed"
        );

        let on = a
            .observer("127.0.0.1:0")
            .actions(true)
            .start()
            .await
            .unwrap();
        let bearer = format!("Bearer {}", on.token());
        let auth = [("Authorization", bearer.as_str())];
        let base = format!("http://{}", on.addr());
        let kill = format!("{base}/api/kill");
        assert_eq!(
            post(&kill, &auth, "application/json", &kill_body)
                .await
                .status,
            404,
            "not shown yet"
        );
        get(&format!("{base}/api/snapshot"), &auth).await;
        assert_eq!(
            post(&kill, &auth, "text/plain", &kill_body).await.status,
            415
        );
        assert_eq!(
            post(&kill, &auth, "application/json", "{\"pid\":")
                .await
                .status,
            400
        );
        let big = format!("{{\"pid\":\"{}\"}}", "x".repeat(10_000));
        assert_eq!(
            post(&kill, &auth, "application/json", &big).await.status,
            413
        );
        assert_eq!(
            post(&kill, &[], "application/json", &kill_body)
                .await
                .status,
            401
        );
        let killed = post(&kill, &auth, "application/json", &kill_body).await;
        assert_eq!(killed.status, 200, "{}", killed.body);

        until("the restart to show", WAIT, || async {
            let s = get(&format!("{base}/api/snapshot"), &auth).await.json();
            s["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["name"] == b.name())
                .any(|n| {
                    n["trees"].as_array().unwrap().iter().any(|t| {
                        t["children"].as_array().unwrap().iter().any(|c| {
                            c["id"] == "worker" && c["restarts"] == 1 && c["pid"]["id"] != id
                        })
                    })
                })
        })
        .await;

        let disconnect = format!("{base}/api/disconnect");
        let unknown = post(
            &disconnect,
            &auth,
            "application/json",
            "{\"node\":\"nobody@127.0.0.1:1\"}",
        )
        .await;
        assert_eq!(unknown.status, 404);
        let body = format!("{{\"node\":\"{}\"}}", b.name());
        assert_eq!(
            post(&disconnect, &auth, "application/json", &body)
                .await
                .status,
            200
        );
        until("b to be disconnected", WAIT, || async {
            !a.nodes().contains(&b.name().to_string())
        })
        .await;
    });
}
