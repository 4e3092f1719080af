use actors::prelude::*;
use std::sync::mpsc::Sender;

/// A generic remote-capable actor: its type parameter must cross the wire.
#[actor]
pub struct Store<T: Send + 'static> {
    items: Vec<T>,
}

#[actor]
impl<T: Wire + Clone> Store<T> {
    #[handle]
    fn put(&mut self, item: T) -> usize {
        self.items.push(item);
        self.items.len()
    }
    #[handle]
    fn all(&self) -> Vec<T> {
        self.items.clone()
    }
}

/// A local actor: its messages never cross the wire, so they need no serde.
#[actor(name = "app::Notifier")]
struct Notifier;

#[actor(local)]
impl Notifier {
    #[handle(cast)]
    fn notify(&self, to: Sender<String>) {
        let _ = to.send("hi".into());
    }
}

fn main() {
    actors::rt::block_on(async {
        let node = Node::local();
        let s = node.spawn(Store::<String> { items: vec![] });
        let _ = s.put("a".into()).await;
        let n = node.spawn(Notifier);
        let (tx, _rx) = std::sync::mpsc::channel();
        n.notify(tx).unwrap();
        assert_eq!(<Notifier as Actor>::identity().name, "app::Notifier");
    });
}
