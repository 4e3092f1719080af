//! Local names: `Process.register/2` and `Process.whereis/1` of one node.

use crate::error::RegisterError;
use crate::kernel::actor::Actor;
use crate::kernel::cell::local_cell;
use crate::kernel::node::{Node, NodeInner};
use crate::kernel::pid::{AnyPid, Pid};
use crate::lock::Unpoisoned;

impl Node {
    /// Registers a local process under `name`, like `Process.register/2`. A process holds at
    /// most one name; the name is freed when the process ends. [`Node::whereis`] finds it.
    ///
    /// ```
    /// # use actors::prelude::*;
    /// # #[actor] struct Counter { n: u64 }
    /// # #[actor] impl Counter {
    /// #     #[handle] fn add(&mut self, by: u64) -> u64 { self.n += by; self.n }
    /// #     #[handle(cast)] fn reset(&mut self) { self.n = 0 }
    /// # }
    /// # actors::rt::block_on(async {
    /// let node = Node::local();
    /// node.register("counter", node.spawn(Counter { n: 0 })).unwrap();
    /// let found: Pid<Counter> = node.whereis("counter").expect("registered");
    /// assert_eq!(found.add(1).await, Ok(1));
    /// // One process per name.
    /// let other = node.spawn(Counter { n: 0 });
    /// assert!(matches!(node.register("counter", other), Err(RegisterError::NameTaken(_))));
    /// # });
    /// ```
    pub fn register(&self, name: &str, pid: impl Into<AnyPid>) -> Result<(), RegisterError> {
        register(&self.inner, name, pid.into())
    }

    /// Removes a local name; true if it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        unregister(&self.inner, name)
    }

    /// The process registered under `name`, if it is an `A`.
    pub fn whereis<A: Actor>(&self, name: &str) -> Option<Pid<A>> {
        self.whereis_any(name)?.downcast()
    }

    /// The process registered under `name`, whatever its type.
    pub fn whereis_any(&self, name: &str) -> Option<AnyPid> {
        self.inner.names.lock().unpoisoned().whereis(name)
    }

    /// Every local name, sorted.
    pub fn registered(&self) -> Vec<String> {
        self.inner.names.lock().unpoisoned().names()
    }
}

fn register(node: &NodeInner, name: &str, pid: AnyPid) -> Result<(), RegisterError> {
    let Some(cell) = local_cell(&pid).filter(|c| std::ptr::eq(&**c.node(), node)) else {
        return Err(if *pid.view().home() == node.id {
            RegisterError::NoProc
        } else {
            RegisterError::NotLocal
        });
    };
    let mut names = node.names.lock().unpoisoned();
    if names.by_name.contains_key(name) {
        return Err(RegisterError::NameTaken(name.to_owned()));
    }
    if let Some(existing) = names.by_id.get(&cell.id()) {
        return Err(RegisterError::AlreadyNamed(existing.clone()));
    }
    // Marked under the mailbox lock: either the process sees the mark when it ends and frees
    // the name, or it has already ended and the registration fails.
    cell.set_named(true).map_err(|()| RegisterError::NoProc)?;
    names.by_name.insert(name.to_owned(), pid);
    names.by_id.insert(cell.id(), name.to_owned());
    Ok(())
}

fn unregister(node: &NodeInner, name: &str) -> bool {
    let mut names = node.names.lock().unpoisoned();
    let Some(pid) = names.by_name.remove(name) else {
        return false;
    };
    names.by_id.remove(&pid.id());
    if let crate::kernel::pid::AnyRoute::Local(c) = &pid.0 {
        let _ = c.set_named(false);
    }
    true
}
