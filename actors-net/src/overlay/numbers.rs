//! Node names as small numbers, so that the search for paths walks numbers rather than
//! hashing or comparing names: a flood of adverts reaches every node, and each node
//! searches again after each burst of them.
//!
//! A name is numbered while something refers to it (an advert naming its own node or a peer,
//! this node's active view) and its number is freed with the last reference; each reference
//! is taken with [`Numbers::take`] and given back with [`Numbers::put`].

use std::sync::Arc;

use actors::dist::rt::HashMap;

#[derive(Debug, Clone)]
struct Slot {
    name: Arc<str>,
    refs: u32,
    /// The numbers of the peers the node's newest advert lists, if one is known.
    links: Option<Vec<u32>>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Numbers {
    of: HashMap<Arc<str>, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Numbers {
    /// `name`'s number, with one more reference to it.
    pub(super) fn take(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.of.get(name) {
            self.slots[n as usize].refs += 1;
            return n;
        }
        let name: Arc<str> = Arc::from(name);
        let slot = Slot {
            name: name.clone(),
            refs: 1,
            links: None,
        };
        let n = match self.free.pop() {
            Some(n) => {
                self.slots[n as usize] = slot;
                n
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.of.insert(name, n);
        n
    }

    /// Gives back one reference to `n`; the last frees it.
    pub(super) fn put(&mut self, n: u32) {
        let slot = &mut self.slots[n as usize];
        slot.refs -= 1;
        if slot.refs == 0 {
            self.of.remove(&*slot.name);
            slot.links = None;
            self.free.push(n);
        }
    }

    /// Numbers for each of `names`, a reference to each taken.
    pub(super) fn take_all(&mut self, names: &[String]) -> Vec<u32> {
        names.iter().map(|n| self.take(n)).collect()
    }

    /// Gives back a reference to each of `numbers`.
    pub(super) fn put_all(&mut self, numbers: &[u32]) {
        numbers.iter().for_each(|&n| self.put(n));
    }

    pub(super) fn get(&self, name: &str) -> Option<u32> {
        self.of.get(name).copied()
    }

    pub(super) fn name(&self, n: u32) -> &str {
        &self.slots[n as usize].name
    }

    /// `n`'s name as it is shared with the tables drawn from it: one name is one
    /// allocation while it is numbered, so a pointer compares it.
    pub(super) fn name_ref(&self, n: u32) -> &Arc<str> {
        &self.slots[n as usize].name
    }

    /// How many numbers there are, in use or free: each is below this.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Sets the peers of `n`'s node as its newest advert lists them (`None` once no advert
    /// of it is kept); the old ones are returned, for their references to be given back.
    pub(super) fn set_links(&mut self, n: u32, links: Option<Vec<u32>>) -> Option<Vec<u32>> {
        std::mem::replace(&mut self.slots[n as usize].links, links)
    }

    pub(super) fn links(&self, n: u32) -> Option<&[u32]> {
        self.slots[n as usize].links.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use crate::overlay::numbers::Numbers;

    #[test]
    fn a_number_is_freed_with_its_last_reference_and_reused() {
        let mut numbers = Numbers::default();
        let a = numbers.take("a");
        assert_eq!(numbers.take("a"), a);
        let b = numbers.take("b");
        assert_ne!(a, b);
        numbers.put(a);
        assert_eq!(numbers.get("a"), Some(a), "one reference is left");
        numbers.put(a);
        assert_eq!(numbers.get("a"), None);
        let c = numbers.take("c");
        assert_eq!(c, a, "the freed number is used again");
        assert_eq!(numbers.name(c), "c");
        assert_eq!(numbers.len(), 2, "no more numbers than names at once");
    }
}
