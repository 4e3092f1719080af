//! Others' notes as the node's services see them: those of the nodes that are up (a route
//! leads there, or did within the grace period), handed to whoever watches a key.
//!
//! The routes keep every node's latest notes; what a service may act on is narrower: a node
//! no route has led to for the grace period is down, and its notes count no more (as a
//! peer's members and names go with its connection in a full mesh). The overlay's task
//! decides which nodes are up and tells the board; the board tells the watchers what
//! changed, key by key, in the order the task saw it.

use std::sync::{Arc, Mutex};

use actors::dist::Unpoisoned;
use actors::dist::rt::HashMap;
use futures::channel::mpsc;

use crate::overlay::Advert;

/// A change of one node's note under a watched key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Noted {
    /// The node the note is of.
    pub(crate) node: String,
    /// Its note now; `None` when it has none, or is down.
    pub(crate) body: Option<Vec<u8>>,
}

#[derive(Default)]
struct State {
    /// The adverts of the nodes up, as last shown: shared with the routes, so the notes are
    /// not kept twice.
    shown: HashMap<String, Arc<Advert>>,
    watchers: HashMap<String, Vec<mpsc::UnboundedSender<Noted>>>,
}

/// The notes of the nodes up, and who watches which key.
#[derive(Default)]
pub(crate) struct Board(Mutex<State>);

impl Board {
    /// Every change under `key` from now on, after the notes shown now (one `Noted` per node
    /// that has one): nothing falls between the two.
    pub(crate) fn watch(&self, key: &str) -> mpsc::UnboundedReceiver<Noted> {
        let (tx, rx) = mpsc::unbounded();
        let mut state = self.0.lock().unpoisoned();
        for (node, advert) in &state.shown {
            if let Some(body) = advert.notes.get(key) {
                let _ = tx.unbounded_send(Noted {
                    node: node.clone(),
                    body: Some(body.to_vec()),
                });
            }
        }
        state.watchers.entry(key.to_string()).or_default().push(tx);
        rx
    }

    /// `node`'s newest advert is `advert` (`None` when it is down): tells the watchers of
    /// each key whose note changed.
    pub(crate) fn show(&self, node: &str, advert: Option<Arc<Advert>>) {
        let mut state = self.0.lock().unpoisoned();
        let before = match &advert {
            None => state.shown.remove(node),
            Some(advert) => state.shown.insert(node.to_string(), advert.clone()),
        };
        if let (Some(a), Some(b)) = (&before, &advert)
            && Arc::ptr_eq(a, b)
        {
            return;
        }
        let none = crate::overlay::Notes::new();
        let before = before.as_ref().map_or(&none, |a| &a.notes);
        let notes = advert.as_ref().map_or(&none, |a| &a.notes);
        let keys = before
            .keys()
            .chain(notes.keys().filter(|k| !before.contains_key(*k)));
        let changed: Vec<&String> = keys.filter(|k| before.get(*k) != notes.get(*k)).collect();
        for key in changed {
            let Some(watchers) = state.watchers.get_mut(key) else {
                continue;
            };
            let noted = Noted {
                node: node.to_string(),
                body: notes.get(key).map(|b| b.to_vec()),
            };
            watchers.retain(|tx| tx.unbounded_send(noted.clone()).is_ok());
        }
    }

    /// Forgets everything (at shutdown): the watchers' streams end.
    pub(crate) fn clear(&self) {
        *self.0.lock().unpoisoned() = State::default();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::StreamExt;

    use crate::links::notes::{Board, Noted};
    use crate::overlay::Advert;

    fn advert(pairs: &[(&str, &str)]) -> Option<Arc<Advert>> {
        Some(Arc::new(Advert {
            node: "a".to_string(),
            version: 1,
            peers: Vec::new(),
            notes: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec().into()))
                .collect(),
            leaving: false,
        }))
    }

    fn noted(node: &str, body: Option<&str>) -> Noted {
        Noted {
            node: node.to_string(),
            body: body.map(|b| b.as_bytes().to_vec()),
        }
    }

    #[test]
    fn watchers_get_what_is_shown_then_each_change_of_their_key() {
        futures::executor::block_on(async {
            let board = Board::default();
            board.show("a", advert(&[("pg", "1"), ("global", "x")]));
            let mut pg = board.watch("pg");
            assert_eq!(pg.next().await, Some(noted("a", Some("1"))));
            // A change of another key only is not a change of this one.
            board.show("a", advert(&[("pg", "1"), ("global", "y")]));
            board.show("b", advert(&[("pg", "2")]));
            assert_eq!(pg.next().await, Some(noted("b", Some("2"))));
            // A node down: its note goes.
            board.show("a", None);
            assert_eq!(pg.next().await, Some(noted("a", None)));
            board.clear();
            assert_eq!(pg.next().await, None, "the stream ends with the board");
        });
    }
}
