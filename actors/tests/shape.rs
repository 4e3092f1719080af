//! The wire shape of a type: what CBOR decoding depends on is in it, what it ignores is not.
#![allow(dead_code)] // the types are only ever traced

use std::collections::BTreeMap;

use actors::shape::{Untraceable, describe, hash};
use serde::Deserialize;

mod v1 {
    #[derive(serde::Deserialize)]
    pub struct Order {
        pub id: u64,
        pub items: Vec<String>,
    }
}

mod reordered {
    #[derive(serde::Deserialize)]
    pub struct Ticket {
        pub items: Vec<String>,
        pub id: u64,
    }
}

mod grown {
    #[derive(serde::Deserialize)]
    pub struct Order {
        pub id: u64,
        pub items: Vec<String>,
        #[serde(default)]
        pub note: Option<String>,
    }
}

mod retyped {
    #[derive(serde::Deserialize)]
    pub struct Order {
        pub id: String,
        pub items: Vec<String>,
    }
}

mod renamed_field {
    #[derive(serde::Deserialize)]
    pub struct Order {
        pub key: u64,
        pub items: Vec<String>,
    }
}

#[test]
fn a_struct_is_its_fields_by_name_not_by_order_or_type_name() {
    assert_eq!(describe::<v1::Order>().unwrap(), "{id:u64,items:seq(str)}");
    assert_eq!(hash::<v1::Order>(), hash::<reordered::Ticket>());
}

#[test]
fn a_new_option_field_keeps_the_shape_and_other_changes_do_not() {
    assert_eq!(hash::<v1::Order>(), hash::<grown::Order>());
    assert_ne!(hash::<v1::Order>(), hash::<retyped::Order>());
    assert_ne!(hash::<v1::Order>(), hash::<renamed_field::Order>());
}

#[derive(Deserialize)]
enum Event {
    Started,
    Moved(i32, i32),
    Renamed { from: String, to: String },
    Payload(Vec<u8>),
}

#[test]
fn an_enum_is_every_variant_whichever_is_decoded_first() {
    assert_eq!(
        describe::<Event>().unwrap(),
        "<Moved=(i32,i32)|Payload=seq(u8)|Renamed={from:str,to:str}|Started>"
    );
}

#[derive(Deserialize)]
enum List {
    Cons(u32, Box<List>),
    Nil,
}

#[derive(Deserialize)]
struct Tree {
    label: String,
    children: Vec<Tree>,
    parent: Option<Box<Tree>>,
}

#[derive(Deserialize)]
enum Expr {
    Add(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Lit(i64),
    Vars(BTreeMap<String, Expr>),
}

#[test]
fn types_that_contain_themselves_are_traced_to_the_end() {
    assert_eq!(describe::<List>().unwrap(), "<Cons=(u32,rec0)|Nil>");
    assert_eq!(
        describe::<Tree>().unwrap(),
        "{children:seq(rec0),label:str}"
    );
    assert_eq!(
        describe::<Expr>().unwrap(),
        "<Add=(rec0,rec0)|Lit=i64|Neg=rec0|Vars=map(str,rec0)>"
    );
}

#[derive(Deserialize)]
struct Pair<T> {
    left: T,
    right: T,
}

#[derive(Deserialize)]
struct Both {
    numbers: Pair<u8>,
    words: Pair<String>,
}

#[test]
fn two_instances_of_one_generic_type_are_told_apart() {
    assert_eq!(
        describe::<Both>().unwrap(),
        "{numbers:{left:u8,right:u8},words:{left:str,right:str}}"
    );
}

#[test]
fn std_types_have_the_shapes_of_their_wire_forms() {
    assert_eq!(describe::<(u8, bool, char)>().unwrap(), "(u8,bool,char)");
    assert_eq!(describe::<[u16; 2]>().unwrap(), "(u16,u16)");
    assert_eq!(
        describe::<std::collections::HashMap<String, Vec<u32>>>().unwrap(),
        "map(str,seq(u32))"
    );
    assert_eq!(describe::<Option<u8>>().unwrap(), "option(u8)");
    assert_eq!(describe::<()>().unwrap(), "unit");
    assert_ne!(hash::<u32>(), hash::<u64>());
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    Number(u64),
    Text(String),
}

#[test]
fn a_type_that_decodes_whatever_it_finds_has_its_name_for_a_shape() {
    assert_eq!(describe::<Loose>(), Err(Untraceable::Any));
    // Stable: the same in every build of the same type.
    assert_eq!(hash::<Loose>(), hash::<Loose>());
    assert_ne!(hash::<Loose>(), hash::<u64>());
}
