//! The local runtime: calls, casts, ordering, timeouts, dead pids, panics, names.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actors::prelude::*;
use actors::rt::block_on;

mod calls;
mod processes;

#[actor]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }
    #[handle]
    async fn get(&self) -> u64 {
        self.n
    }
    #[handle(cast)]
    fn reset(&mut self) {
        self.n = 0
    }
    #[handle(cast)]
    fn incr(&mut self) {
        self.n += 1
    }
    #[handle]
    async fn slow(&self, d: Duration) -> u64 {
        actors::rt::sleep(d).await;
        self.n
    }
    #[handle]
    fn boom(&mut self, msg: String) -> u64 {
        panic!("{msg}")
    }
    #[handle]
    fn quit(&mut self, reason: ExitReason, ctx: &mut Ctx<Self>) {
        ctx.stop(reason)
    }
}

/// Collects (sender, sequence) pairs and counts order violations per sender.
#[actor]
struct Collector {
    next: HashMap<u32, u64>,
    violations: u64,
}

#[actor]
impl Collector {
    #[handle(cast)]
    fn push(&mut self, sender: u32, seq: u64) {
        let next = self.next.entry(sender).or_insert(0);
        if *next != seq {
            self.violations += 1;
        }
        *next = seq + 1;
    }
    #[handle]
    fn report(&self) -> (u64, HashMap<u32, u64>) {
        (self.violations, self.next.clone())
    }
}
