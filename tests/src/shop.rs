//! A cart as version 1 of a program has it, served by every `testnode` as "cart": tests of
//! upgrades meet it with other versions of its message types (`tests/evolution.rs`).

use actors::prelude::*;
use serde::{Deserialize, Serialize};

/// A line of the cart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The article.
    pub sku: u32,
    /// How many.
    pub qty: u32,
}

/// The cart: items added, the last one read back.
#[actor(name = "shop::Cart")]
#[derive(Default)]
pub struct Cart {
    items: Vec<Item>,
}

#[actor]
impl Cart {
    /// Adds `item`; answers how many articles the cart holds.
    #[handle]
    fn add(&mut self, item: Item) -> u32 {
        self.items.push(item);
        self.items.iter().map(|i| i.qty).sum()
    }

    /// The item added last.
    #[handle]
    fn last(&self) -> Option<Item> {
        self.items.last().cloned()
    }
}
