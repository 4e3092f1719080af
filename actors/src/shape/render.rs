//! The text of a traced shape: structs and enums written out where they are used (their
//! names left out), fields and variants sorted by name, `Option` fields dropped, a type
//! inside itself written as how many levels up it is.

use std::fmt::Write;

use super::tracer::{Body, Key, Shape, Tracer};

impl Tracer {
    pub(super) fn render(&self, shape: &Shape, out: &mut String, stack: &mut Vec<Key>) {
        match shape {
            Shape::Prim(p) => out.push_str(p),
            Shape::Option(s) => self.wrap("option(", s, ")", out, stack),
            Shape::Seq(s) => self.wrap("seq(", s, ")", out, stack),
            Shape::Map(k, v) => {
                out.push_str("map(");
                self.render(k, out, stack);
                out.push(',');
                self.render(v, out, stack);
                out.push(')');
            }
            Shape::Tuple(items) => self.list(items, out, stack),
            Shape::Named(key) => {
                if let Some(depth) = stack.iter().rev().position(|k| k == key) {
                    let _ = write!(out, "rec{depth}");
                    return;
                }
                let Some(body) = self.registry.get(key) else {
                    out.push('?');
                    return;
                };
                stack.push(*key);
                self.body(body, out, stack);
                stack.pop();
            }
        }
    }

    fn wrap(&self, open: &str, inner: &Shape, close: &str, out: &mut String, stack: &mut Vec<Key>) {
        out.push_str(open);
        self.render(inner, out, stack);
        out.push_str(close);
    }

    fn list(&self, items: &[Shape], out: &mut String, stack: &mut Vec<Key>) {
        out.push('(');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.render(item, out, stack);
        }
        out.push(')');
    }

    fn body(&self, body: &Body, out: &mut String, stack: &mut Vec<Key>) {
        match body {
            Body::Unit => out.push_str("unit"),
            Body::Newtype(s) => self.render(s, out, stack),
            Body::Tuple(items) => self.list(items, out, stack),
            Body::Struct(fields) => {
                let mut fields: Vec<_> = fields
                    .iter()
                    .filter(|(_, s)| !matches!(s, Shape::Option(_)))
                    .collect();
                fields.sort_by_key(|(name, _)| *name);
                out.push('{');
                for (i, (name, shape)) in fields.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(name);
                    out.push(':');
                    self.render(shape, out, stack);
                }
                out.push('}');
            }
            Body::Enum { variants, traced } => {
                let mut named: Vec<_> = traced.iter().map(|(i, b)| (variants[*i], b)).collect();
                named.sort_by_key(|(name, _)| *name);
                out.push('<');
                for (i, (name, body)) in named.into_iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    out.push_str(name);
                    if !matches!(body, Body::Unit) {
                        out.push('=');
                        self.body(body, out, stack);
                    }
                }
                out.push('>');
            }
        }
    }
}
