//! Erlang terms as Rust values.

use std::fmt;
use std::sync::Arc;

/// An atom: an interned name in Erlang, a shared string here.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Atom(Arc<str>);

impl Atom {
    /// The atom's name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Atom {
    fn from(name: &str) -> Self {
        Atom(name.into())
    }
}

impl From<String> for Atom {
    fn from(name: String) -> Self {
        Atom(name.into())
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self.0.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .0
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@');
        if plain {
            write!(f, "{}", self.0)
        } else {
            write!(f, "'{}'", self.0.escape_default())
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The pid of a process on a BEAM node (or of a Rust process, as a BEAM node sees it).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ErlPid {
    /// The node the process lives on.
    pub node: Atom,
    /// The process number.
    pub id: u32,
    /// The serial, the high bits of the process number.
    pub serial: u32,
    /// The node's creation.
    pub creation: u32,
}

impl fmt::Debug for ErlPid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}.{}.{}>", self.node, self.id, self.serial)
    }
}

/// A reference, as `make_ref()` and monitors make them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ErlRef {
    /// The node that made it.
    pub node: Atom,
    /// The node's creation.
    pub creation: u32,
    /// Its words: one to five.
    pub ids: Vec<u32>,
}

impl fmt::Debug for ErlRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<{}", self.node)?;
        for id in self.ids.iter().rev() {
            write!(f, ".{id}")?;
        }
        write!(f, ">")
    }
}

/// A port identifier: carried, never used.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ErlPort {
    /// The node of the port.
    pub node: Atom,
    /// Its number.
    pub id: u64,
    /// The node's creation.
    pub creation: u32,
}

impl fmt::Debug for ErlPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Port<{}.{}>", self.node, self.id)
    }
}

/// A fun: carried and compared, never run. An external fun (`fun global:random_exit_name/3`)
/// is its name; a closure is its encoding as it arrived.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum ErlFun {
    /// `fun Module:Function/Arity`.
    Export {
        /// The module.
        module: Atom,
        /// The function.
        function: Atom,
        /// Its arity.
        arity: u8,
    },
    /// A closure (`fun() -> .. end`), as its bytes after the tag: it can be sent back, never
    /// run here.
    Closure(Vec<u8>),
}

impl fmt::Debug for ErlFun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErlFun::Export {
                module,
                function,
                arity,
            } => write!(f, "fun {module}:{function}/{arity}"),
            ErlFun::Closure(b) => write!(f, "#Fun<{} bytes>", b.len()),
        }
    }
}

/// An Erlang term. Bit strings that are not whole bytes, and funs of the old format, are
/// refused when decoding (see [`decode`](super::decode)).
#[derive(Clone, PartialEq)]
pub enum Term {
    /// An atom; `true`, `false`, `undefined` and `ok` are atoms too.
    Atom(Atom),
    /// An integer. Larger ones than `i128` are refused.
    Int(i128),
    /// A float.
    Float(f64),
    /// A binary (`<<"text">>`): Rust strings and byte vectors.
    Binary(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Term>),
    /// A proper list; `[]` is the empty one.
    List(Vec<Term>),
    /// A list whose tail is not `[]`: `[a | b]`.
    Improper(Vec<Term>, Box<Term>),
    /// A map, in the order it arrived.
    Map(Vec<(Term, Term)>),
    /// A pid.
    Pid(ErlPid),
    /// A reference.
    Ref(ErlRef),
    /// A port.
    Port(ErlPort),
    /// A fun, carried as data.
    Fun(ErlFun),
}

impl Term {
    /// The atom of this name.
    pub fn atom(name: &str) -> Term {
        Term::Atom(Atom::from(name))
    }

    /// A tuple.
    pub fn tuple(items: impl IntoIterator<Item = Term>) -> Term {
        Term::Tuple(items.into_iter().collect())
    }

    /// A binary holding `text`.
    pub fn binary(text: impl AsRef<[u8]>) -> Term {
        Term::Binary(text.as_ref().to_vec())
    }

    /// The atom's name, if this is an atom.
    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Term::Atom(a) => Some(a.name()),
            _ => None,
        }
    }

    /// The elements, if this is a tuple.
    pub fn as_tuple(&self) -> Option<&[Term]> {
        match self {
            Term::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// True for the atom of this name.
    pub fn is_atom(&self, name: &str) -> bool {
        self.as_atom() == Some(name)
    }
}

impl fmt::Debug for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list(f: &mut fmt::Formatter<'_>, items: &[Term]) -> fmt::Result {
            for (i, t) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, ",")?;
                }
                write!(f, "{t:?}")?;
            }
            Ok(())
        }
        match self {
            Term::Atom(a) => write!(f, "{a}"),
            Term::Int(n) => write!(f, "{n}"),
            Term::Float(x) => write!(f, "{x:?}"),
            Term::Binary(b) => match std::str::from_utf8(b) {
                Ok(s) => write!(f, "<<{s:?}>>"),
                Err(_) => write!(
                    f,
                    "<<{}>>",
                    b.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
                ),
            },
            Term::Tuple(items) => {
                write!(f, "{{")?;
                list(f, items)?;
                write!(f, "}}")
            }
            Term::List(items) => {
                write!(f, "[")?;
                list(f, items)?;
                write!(f, "]")
            }
            Term::Improper(items, tail) => {
                write!(f, "[")?;
                list(f, items)?;
                write!(f, "|{tail:?}]")
            }
            Term::Map(pairs) => {
                write!(f, "#{{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, "{k:?} => {v:?}")?;
                }
                write!(f, "}}")
            }
            Term::Pid(p) => write!(f, "{p:?}"),
            Term::Ref(r) => write!(f, "{r:?}"),
            Term::Port(p) => write!(f, "{p:?}"),
            Term::Fun(fun) => write!(f, "{fun:?}"),
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<Atom> for Term {
    fn from(a: Atom) -> Self {
        Term::Atom(a)
    }
}

impl From<ErlPid> for Term {
    fn from(p: ErlPid) -> Self {
        Term::Pid(p)
    }
}

impl From<ErlRef> for Term {
    fn from(r: ErlRef) -> Self {
        Term::Ref(r)
    }
}
