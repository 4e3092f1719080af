//! Local names: `Process.register/2` and `Process.whereis/1` of one node.

use crate::rt::HashMap;

use crate::cell::local_cell;
use crate::error::RegisterError;
use crate::id::IdMap;
use crate::lock::Unpoisoned;
use crate::node::NodeInner;
use crate::pid::AnyPid;

/// Both directions, so that a process's name is found and freed by its id when it ends.
#[derive(Default)]
pub(crate) struct Names {
    by_name: HashMap<String, AnyPid>,
    by_id: IdMap<String>,
}

impl Names {
    pub(crate) fn whereis(&self, name: &str) -> Option<AnyPid> {
        self.by_name.get(name).cloned()
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        names.sort();
        names
    }

    /// The name process `id` is registered under, if any.
    pub(crate) fn name_of(&self, id: u64) -> Option<String> {
        self.by_id.get(&id).cloned()
    }

    /// Frees the name of a process that ended.
    pub(crate) fn forget(&mut self, id: u64) {
        if let Some(name) = self.by_id.remove(&id) {
            self.by_name.remove(&name);
        }
    }
}

pub(crate) fn register(node: &NodeInner, name: &str, pid: AnyPid) -> Result<(), RegisterError> {
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

pub(crate) fn unregister(node: &NodeInner, name: &str) -> bool {
    let mut names = node.names.lock().unpoisoned();
    let Some(pid) = names.by_name.remove(name) else {
        return false;
    };
    names.by_id.remove(&pid.id());
    if let crate::pid::AnyRoute::Local(c) = &pid.0 {
        let _ = c.set_named(false);
    }
    true
}
