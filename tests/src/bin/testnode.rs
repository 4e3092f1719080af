//! A node in its own OS process, for tests that kill or freeze it.
//!
//! `testnode --name n@127.0.0.1:0 --cookie c [--connect other]... [--heartbeat-ms 200]
//! [--join group]... [--global name] [--beam name@host --epmd port]` starts the node (speaking to BEAM nodes
//! as `name@host` when asked), registers a `Counter` as "counter", has it join the
//! process groups given (default scope), connects to the peers given, registers the counter
//! under the global name given, registers a `Status` as "status" and a version-1
//! `shop::Cart` as "cart", prints `READY <name>`
//! and runs until killed. Other nodes may spawn `Counter`s on it. `--dsup name` starts a
//! member of the distributed supervisor `name`; `--dsup-child id` then adds a `Counter`
//! child `id` to it, under the global name `id`; `--voter name` (each voter, this node
//! included) makes that supervisor consistent. `--failover id=node,node...` starts a local
//! supervisor with a `failover_child` `Counter` `id` preferring those nodes, under the global
//! name `id`. `--track topic=key` tracks the counter's presence as `key` in `topic` (its
//! metadata, a `String`: the node's name). `--overlay N` runs the node on the partial-view
//! overlay sized for a cluster of N nodes (joining through the first `--connect`).
//!
//! Once ready it answers commands on stdin, one a line after a number, with one line after
//! the same number: `nodes` (the connected nodes, comma-separated, sorted) and `whereis NAME`
//! (the node of the global name, or `none`).

use std::time::Duration;

use actors_integration::Counter;
use actors_net::prelude::*;

fn main() {
    // Warnings and crashes by default; RUST_LOG=actors_net=debug when a test needs explaining.
    actors_net::logs::init();
    let mut name = String::from("child@127.0.0.1:0");
    let mut cookie = String::from(actors_integration::COOKIE);
    let mut connect = Vec::new();
    let mut heartbeat_ms = None;
    let mut groups = Vec::new();
    let mut beam = None;
    let mut global = None;
    let mut epmd = None;
    let mut dsup = None;
    let mut dsup_children = Vec::new();
    let mut voters = Vec::new();
    let mut failover = None;
    let mut track = None;
    let mut overlay = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match arg.as_str() {
            "--name" => name = value(),
            "--cookie" => cookie = value(),
            "--connect" => connect.push(value()),
            "--join" => groups.push(value()),
            "--beam" => beam = Some(value()),
            "--global" => global = Some(value()),
            "--dsup" => dsup = Some(value()),
            "--dsup-child" => dsup_children.push(value()),
            "--voter" => voters.push(value()),
            "--failover" => failover = Some(value()),
            "--track" => track = Some(value()),
            "--overlay" => overlay = Some(value().parse::<usize>().expect("a number")),
            "--epmd" => epmd = Some(value().parse::<u16>().expect("a port")),
            "--heartbeat-ms" => heartbeat_ms = Some(value().parse::<u64>().expect("a number")),
            other => panic!("unknown argument {other}"),
        }
    }
    let node = actors::rt::block_on(async move {
        let mut builder = Node::builder(&name).cookie(&cookie);
        if let Some(ms) = heartbeat_ms {
            builder = builder.heartbeat(Duration::from_millis(ms), 5);
        }
        if let Some(size) = overlay {
            builder = builder.overlay(actors_net::overlay::OverlayConfig::for_cluster(size));
        }
        if let Some(beam) = &beam {
            builder = builder.beam(beam);
            if let Some(port) = epmd {
                builder = builder.epmd_port(port);
            }
        }
        let node = builder.start().await.expect("node starts");
        node.allow_spawn::<Counter>();
        let counter = node.spawn(Counter { n: 0 });
        node.register("counter", &counter).expect("free name");
        for group in &groups {
            node.groups().join(group, &counter).await.expect("joins");
        }
        for peer in &connect {
            node.connect(peer).await.expect("connects");
        }
        let status = node.spawn(actors_integration::Status);
        node.register("status", &status).expect("free name");
        let cart = node.spawn(actors_integration::shop::Cart::default());
        node.register("cart", &cart).expect("free name");
        if let Some(name) = &global {
            node.global()
                .register(name, &counter)
                .await
                .expect("registers");
        }
        if let Some(sup) = &dsup {
            use actors_net::distributed::{DEFAULT_MAX_CHILDREN, DistributedSupervisor, Mode};
            let mode = if voters.is_empty() {
                Mode::Available
            } else {
                Mode::Consistent(voters.clone())
            };
            let sup = DistributedSupervisor::start_with(&node, sup, mode, DEFAULT_MAX_CHILDREN)
                .await
                .expect("the member starts");
            for id in &dsup_children {
                let def = actors_net::distributed::ChildDef::new(id, &Counter { n: 0 })
                    .expect("encodes")
                    .global_name(id);
                // A consistent supervisor takes writes once it has a leader.
                for _ in 0..100 {
                    if sup.start_child(def.clone()).await.is_ok() {
                        break;
                    }
                    actors::rt::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        if let Some(spec) = &failover {
            use actors::supervisor::{Strategy, Supervisor};
            let (id, nodes) = spec.split_once('=').expect("id=node,node...");
            let nodes: Vec<&str> = nodes.split(',').collect();
            let child = actors_net::failover_child(id, nodes, || Counter { n: 0 }).global_name(id);
            Supervisor::new(Strategy::OneForOne)
                .child(child)
                .start(&node)
                .await
                .expect("the failover child starts");
        }
        if let Some(spec) = &track {
            let (topic, key) = spec.split_once('=').expect("topic=key");
            let topic: actors_net::pubsub::Topic<String> = actors_net::pubsub::Topic::new(topic);
            let presence = actors_net::presence::Presence::start(&node)
                .await
                .expect("the presence server starts");
            presence
                .track(&topic, key, &counter, node.name().to_string())
                .await
                .expect("tracks");
        }
        println!("READY {}", node.name());
        node
    });
    answer_commands(&node);
    // Stdin closed: run on until killed, as the node was asked to.
    loop {
        std::thread::park();
    }
}

/// Answers the commands on stdin until it closes.
fn answer_commands(node: &Node) {
    use std::io::BufRead;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        let (n, line) = line.split_once(' ').unwrap_or(("0", line.as_str()));
        let (command, arg) = line.split_once(' ').unwrap_or((line, ""));
        let answer = match command {
            "nodes" => {
                let mut nodes = node.nodes();
                nodes.sort();
                nodes.join(",")
            }
            "whereis" => node
                .global()
                .whereis_any(arg)
                .map_or_else(|| "none".to_string(), |p| p.node().to_string()),
            other => format!("ERR unknown command {other}"),
        };
        println!("{n} {answer}");
    }
}
