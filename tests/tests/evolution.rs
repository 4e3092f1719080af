//! Two versions of one actor meet, as in a rolling upgrade: the actor keeps its name and its
//! handlers, and only a message type changes. An incompatible change is refused at the
//! lookup, before any message is lost; a compatible one (a new `Option` field) works both
//! ways. Version 1 is `actors_integration::shop`, which `testnode` serves too, so that the
//! versions also meet as two builds in two OS processes.

use actors::prelude::*;
use actors_integration::child::ChildNode;
use actors_integration::shop as v1;
use actors_integration::{DistNode, cluster, join_child};
use actors_net::LookupError;
use serde::{Deserialize, Serialize};

/// The next version: `sku` became a string. Old nodes cannot read it.
mod retyped {
    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Item {
        pub sku: String,
        pub qty: u32,
    }

    #[actor(name = "shop::Cart")]
    pub struct Cart {
        pub items: Vec<Item>,
    }

    #[actor]
    impl Cart {
        #[handle]
        fn add(&mut self, item: Item) -> u32 {
            self.items.push(item);
            self.items.iter().map(|i| i.qty).sum()
        }

        #[handle]
        fn last(&self) -> Option<Item> {
            self.items.last().cloned()
        }
    }
}

/// The next version done compatibly: a new optional field.
mod grown {
    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Item {
        pub sku: u32,
        pub qty: u32,
        #[serde(default)]
        pub gift_note: Option<String>,
    }

    #[actor(name = "shop::Cart")]
    pub struct Cart {
        pub items: Vec<Item>,
    }

    #[actor]
    impl Cart {
        #[handle]
        fn add(&mut self, item: Item) -> u32 {
            self.items.push(item);
            self.items.iter().map(|i| i.qty).sum()
        }

        #[handle]
        fn last(&self) -> Option<Item> {
            self.items.last().cloned()
        }
    }
}

#[test]
fn an_incompatible_message_type_is_refused_at_the_lookup() {
    actors::rt::block_on(async {
        let nodes = cluster(2).await;
        let (old, new) = (&nodes[0], &nodes[1]);
        old.register("cart", old.spawn(v1::Cart::default()))
            .unwrap();

        let refused = new
            .whereis_on::<retyped::Cart>("cart", old.name())
            .await
            .expect_err("a cart of another message type is refused");
        assert!(matches!(refused, LookupError::WrongType(_)), "{refused:?}");
        assert!(
            refused.to_string().contains("message types differ"),
            "{refused}"
        );

        // The refusal is the lookup's: the same name, asked as the old type, still works.
        let cart: Pid<v1::Cart> = new.whereis_on("cart", old.name()).await.unwrap();
        assert_eq!(cart.add(v1::Item { sku: 7, qty: 2 }).await, Ok(2));
    });
}

#[test]
fn a_new_optional_field_works_between_the_versions_both_ways() {
    actors::rt::block_on(async {
        let nodes = cluster(2).await;
        let (old, new) = (&nodes[0], &nodes[1]);
        old.register("cart", old.spawn(v1::Cart::default()))
            .unwrap();
        new.register("cart", new.spawn(grown::Cart { items: Vec::new() }))
            .unwrap();

        // New to old: the new field is passed over.
        let on_old: Pid<grown::Cart> = new.whereis_on("cart", old.name()).await.unwrap();
        let item = grown::Item {
            sku: 1,
            qty: 3,
            gift_note: Some("happy birthday".into()),
        };
        assert_eq!(on_old.add(item).await, Ok(3));
        let back = on_old.last().await.unwrap().expect("an item");
        assert_eq!((back.sku, back.qty, back.gift_note), (1, 3, None));

        // Old to new: the missing field is None.
        let on_new: Pid<v1::Cart> = old.whereis_on("cart", new.name()).await.unwrap();
        assert_eq!(on_new.add(v1::Item { sku: 2, qty: 5 }).await, Ok(5));
        let kept = new
            .whereis::<grown::Cart>("cart")
            .unwrap()
            .last()
            .await
            .unwrap()
            .expect("an item");
        assert_eq!((kept.sku, kept.qty, kept.gift_note), (2, 5, None));
    });
}

#[test]
fn two_builds_in_two_processes_refuse_or_talk_as_their_types_allow() {
    actors::rt::block_on(async {
        let new = actors_integration::start("new").await;
        let old: ChildNode =
            join_child(env!("CARGO_BIN_EXE_testnode"), "old@127.0.0.1:0", &new).await;

        let refused = new
            .whereis_on::<retyped::Cart>("cart", &old.name)
            .await
            .expect_err("the other build's cart of another message type is refused");
        assert!(matches!(refused, LookupError::WrongType(_)), "{refused:?}");

        let cart: Pid<grown::Cart> = new.whereis_on("cart", &old.name).await.unwrap();
        let item = grown::Item {
            sku: 9,
            qty: 4,
            gift_note: Some("for you".into()),
        };
        assert_eq!(cart.add(item).await, Ok(4));
        let back = cart.last().await.unwrap().expect("an item");
        assert_eq!((back.sku, back.qty, back.gift_note), (9, 4, None));
    });
}
