//! The External Term Format: `term_to_binary` and `binary_to_term`, with limits for input
//! from a peer that may lie.
//!
//! Every length read from the input is checked against the bytes left before anything is
//! allocated for it (each element takes at least one byte), and nesting is limited, so that
//! a hostile peer can neither make a node allocate without bound nor overflow its stack.

use thiserror::Error;

use super::term::{Atom, ErlFun, ErlPid, ErlPort, ErlRef, Term};

/// The version byte in front of every encoded term.
pub const VERSION: u8 = 131;

/// How deep a decoded term may nest (tuples, lists and maps inside each other).
pub const MAX_DEPTH: usize = 128;

/// Why bytes are not a term this side accepts.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EtfError {
    /// The input ended inside a term.
    #[error("the term is truncated")]
    Truncated,
    /// The version byte is not 131.
    #[error("not an external term: version byte {0}")]
    BadVersion(u8),
    /// A tag this decoder does not know.
    #[error("unknown term tag {0}")]
    UnknownTag(u8),
    /// A term this side does not accept: funs, bit strings, compressed terms, atom cache
    /// references.
    #[error("unsupported term: {0}")]
    Unsupported(&'static str),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("the term nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// An integer outside `i128`.
    #[error("the integer does not fit in 128 bits")]
    IntTooLarge,
    /// An atom that is not valid text, or longer than 255 characters.
    #[error("invalid atom")]
    BadAtom,
    /// A float that is not a number Erlang could have sent.
    #[error("invalid float")]
    BadFloat,
    /// Bytes after the term.
    #[error("{0} bytes after the term")]
    Trailing(usize),
}

/// Encodes a term with its version byte (`term_to_binary`).
///
/// ```
/// use actors::etf::{Term, decode, encode};
/// let t = Term::tuple([Term::atom("add"), Term::Int(5)]);
/// assert_eq!(decode(&encode(&t)).unwrap(), t);
/// ```
pub fn encode(term: &Term) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    encode_into(term, &mut out);
    out
}

/// Appends a term with its version byte.
pub fn encode_into(term: &Term, out: &mut Vec<u8>) {
    out.push(VERSION);
    put(term, out);
}

/// Decodes one whole term with its version byte (`binary_to_term`).
pub fn decode(bytes: &[u8]) -> Result<Term, EtfError> {
    let mut input = bytes;
    let term = decode_prefix(&mut input)?;
    if input.is_empty() {
        Ok(term)
    } else {
        Err(EtfError::Trailing(input.len()))
    }
}

/// Decodes the term at the front of `input` and moves past it: a distribution message is
/// two terms back to back.
pub fn decode_prefix(input: &mut &[u8]) -> Result<Term, EtfError> {
    let mut r = Reader { input, depth: 0 };
    match r.u8()? {
        VERSION => r.term(),
        other => Err(EtfError::BadVersion(other)),
    }
}

fn put_atom(name: &str, out: &mut Vec<u8>) {
    let bytes = name.as_bytes();
    if bytes.len() < 256 {
        out.push(119);
        out.push(bytes.len() as u8);
    } else {
        out.push(118);
        out.extend_from_slice(&(bytes.len().min(u16::MAX as usize) as u16).to_be_bytes());
    }
    out.extend_from_slice(&bytes[..bytes.len().min(u16::MAX as usize)]);
}

fn put_int(n: i128, out: &mut Vec<u8>) {
    if (0..=255).contains(&n) {
        out.push(97);
        out.push(n as u8);
    } else if let Ok(n) = i32::try_from(n) {
        out.push(98);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        let magnitude = n.unsigned_abs();
        let digits = magnitude.to_le_bytes();
        let len = 16 - (magnitude.leading_zeros() / 8) as usize;
        out.push(110);
        out.push(len as u8);
        out.push(u8::from(n < 0));
        out.extend_from_slice(&digits[..len]);
    }
}

fn put_len(tag_small: u8, tag_large: u8, len: usize, out: &mut Vec<u8>) {
    if len < 256 {
        out.push(tag_small);
        out.push(len as u8);
    } else {
        out.push(tag_large);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn put(term: &Term, out: &mut Vec<u8>) {
    match term {
        Term::Atom(a) => put_atom(a.name(), out),
        Term::Int(n) => put_int(*n, out),
        Term::Float(x) => {
            out.push(70);
            out.extend_from_slice(&x.to_bits().to_be_bytes());
        }
        Term::Binary(b) => {
            out.push(109);
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
        }
        Term::Tuple(items) => {
            put_len(104, 105, items.len(), out);
            items.iter().for_each(|t| put(t, out));
        }
        Term::List(items) if items.is_empty() => out.push(106),
        Term::List(items) => {
            out.push(108);
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            items.iter().for_each(|t| put(t, out));
            out.push(106);
        }
        Term::Improper(items, tail) => {
            out.push(108);
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            items.iter().for_each(|t| put(t, out));
            put(tail, out);
        }
        Term::Map(pairs) => {
            out.push(116);
            out.extend_from_slice(&(pairs.len() as u32).to_be_bytes());
            for (k, v) in pairs {
                put(k, out);
                put(v, out);
            }
        }
        Term::Pid(p) => {
            out.push(88);
            put_atom(p.node.name(), out);
            out.extend_from_slice(&p.id.to_be_bytes());
            out.extend_from_slice(&p.serial.to_be_bytes());
            out.extend_from_slice(&p.creation.to_be_bytes());
        }
        Term::Ref(r) => {
            out.push(90);
            out.extend_from_slice(&(r.ids.len() as u16).to_be_bytes());
            put_atom(r.node.name(), out);
            out.extend_from_slice(&r.creation.to_be_bytes());
            r.ids
                .iter()
                .for_each(|id| out.extend_from_slice(&id.to_be_bytes()));
        }
        Term::Port(p) => {
            if let Ok(id) = u32::try_from(p.id) {
                out.push(89);
                put_atom(p.node.name(), out);
                out.extend_from_slice(&id.to_be_bytes());
            } else {
                out.push(120);
                put_atom(p.node.name(), out);
                out.extend_from_slice(&p.id.to_be_bytes());
            }
            out.extend_from_slice(&p.creation.to_be_bytes());
        }
        Term::Fun(ErlFun::Export {
            module,
            function,
            arity,
        }) => {
            out.push(113);
            put_atom(module.name(), out);
            put_atom(function.name(), out);
            put_int(*arity as i128, out);
        }
        Term::Fun(ErlFun::Closure(bytes)) => {
            out.push(112);
            out.extend_from_slice(bytes);
        }
    }
}

struct Reader<'a, 'b> {
    input: &'b mut &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a, '_> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EtfError> {
        if self.input.len() < n {
            return Err(EtfError::Truncated);
        }
        let (head, rest) = self.input.split_at(n);
        *self.input = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, EtfError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, EtfError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, EtfError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, EtfError> {
        let hi = self.u32()? as u64;
        Ok(hi << 32 | self.u32()? as u64)
    }

    /// Room for `count` elements of at least one byte each: never more than the input holds.
    fn vec<T>(&self, count: usize) -> Result<Vec<T>, EtfError> {
        if count > self.input.len() {
            return Err(EtfError::Truncated);
        }
        Ok(Vec::with_capacity(count))
    }

    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, EtfError>,
    ) -> Result<T, EtfError> {
        if self.depth >= MAX_DEPTH {
            return Err(EtfError::TooDeep);
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn atom_text(&mut self, len: usize, utf8: bool) -> Result<Atom, EtfError> {
        let bytes = self.take(len)?;
        let name: String = if utf8 {
            std::str::from_utf8(bytes)
                .map_err(|_| EtfError::BadAtom)?
                .into()
        } else {
            bytes.iter().map(|&b| b as char).collect()
        };
        if name.chars().count() > 255 {
            return Err(EtfError::BadAtom);
        }
        Ok(Atom::from(name))
    }

    fn atom(&mut self) -> Result<Atom, EtfError> {
        let tag = self.u8()?;
        self.atom_tagged(tag)
    }

    fn atom_tagged(&mut self, tag: u8) -> Result<Atom, EtfError> {
        match tag {
            119 => {
                let n = self.u8()? as usize;
                self.atom_text(n, true)
            }
            118 => {
                let n = self.u16()? as usize;
                self.atom_text(n, true)
            }
            115 => {
                let n = self.u8()? as usize;
                self.atom_text(n, false)
            }
            100 => {
                let n = self.u16()? as usize;
                self.atom_text(n, false)
            }
            82 => Err(EtfError::Unsupported("atom cache reference")),
            _ => Err(EtfError::BadAtom),
        }
    }

    fn big(&mut self, n: usize) -> Result<Term, EtfError> {
        let negative = match self.u8()? {
            0 => false,
            1 => true,
            _ => return Err(EtfError::IntTooLarge),
        };
        let digits = self.take(n)?;
        let mut magnitude: u128 = 0;
        for (i, &d) in digits.iter().enumerate() {
            if d == 0 {
                continue;
            }
            if i >= 16 {
                return Err(EtfError::IntTooLarge);
            }
            magnitude |= (d as u128) << (8 * i);
        }
        let value = if negative {
            0i128.checked_sub_unsigned(magnitude)
        } else {
            i128::try_from(magnitude).ok()
        };
        value.map(Term::Int).ok_or(EtfError::IntTooLarge)
    }

    fn items(&mut self, count: usize) -> Result<Vec<Term>, EtfError> {
        let mut items = self.vec(count)?;
        for _ in 0..count {
            items.push(self.term()?);
        }
        Ok(items)
    }

    fn term(&mut self) -> Result<Term, EtfError> {
        let tag = self.u8()?;
        Ok(match tag {
            97 => Term::Int(self.u8()? as i128),
            98 => Term::Int(self.u32()? as i32 as i128),
            110 => {
                let n = self.u8()? as usize;
                self.big(n)?
            }
            111 => {
                let n = self.u32()? as usize;
                self.big(n)?
            }
            70 => {
                let x = f64::from_bits(self.u64()?);
                if !x.is_finite() {
                    return Err(EtfError::BadFloat);
                }
                Term::Float(x)
            }
            99 => {
                let text = self.take(31)?;
                let text = std::str::from_utf8(text).map_err(|_| EtfError::BadFloat)?;
                let x: f64 = text
                    .trim_end_matches('\0')
                    .trim()
                    .parse()
                    .map_err(|_| EtfError::BadFloat)?;
                if !x.is_finite() {
                    return Err(EtfError::BadFloat);
                }
                Term::Float(x)
            }
            119 | 118 | 115 | 100 | 82 => Term::Atom(self.atom_tagged(tag)?),
            104 => {
                let n = self.u8()? as usize;
                Term::Tuple(self.nested(|r| r.items(n))?)
            }
            105 => {
                let n = self.u32()? as usize;
                Term::Tuple(self.nested(|r| r.items(n))?)
            }
            106 => Term::List(Vec::new()),
            107 => {
                let n = self.u16()? as usize;
                Term::List(
                    self.take(n)?
                        .iter()
                        .map(|&b| Term::Int(b as i128))
                        .collect(),
                )
            }
            108 => {
                let n = self.u32()? as usize;
                self.nested(|r| {
                    let items = r.items(n)?;
                    Ok(match r.term()? {
                        Term::List(rest) if rest.is_empty() => Term::List(items),
                        tail => Term::Improper(items, Box::new(tail)),
                    })
                })?
            }
            109 => {
                let n = self.u32()? as usize;
                Term::Binary(self.take(n)?.to_vec())
            }
            77 => {
                let n = self.u32()? as usize;
                let bits = self.u8()?;
                let data = self.take(n)?;
                if bits != 8 {
                    return Err(EtfError::Unsupported(
                        "a bit string that is not whole bytes",
                    ));
                }
                Term::Binary(data.to_vec())
            }
            116 => {
                let n = self.u32()? as usize;
                self.nested(|r| {
                    let mut pairs = r.vec(n)?;
                    for _ in 0..n {
                        let k = r.term()?;
                        let v = r.term()?;
                        pairs.push((k, v));
                    }
                    Ok(Term::Map(pairs))
                })?
            }
            88 | 103 => {
                let node = self.atom()?;
                let id = self.u32()?;
                let serial = self.u32()?;
                let creation = if tag == 88 {
                    self.u32()?
                } else {
                    self.u8()? as u32
                };
                Term::Pid(ErlPid {
                    node,
                    id,
                    serial,
                    creation,
                })
            }
            90 | 114 => {
                let n = self.u16()? as usize;
                if n == 0 || n > 5 {
                    return Err(EtfError::Unsupported("a reference of more than five words"));
                }
                let node = self.atom()?;
                let creation = if tag == 90 {
                    self.u32()?
                } else {
                    self.u8()? as u32
                };
                let mut ids = Vec::with_capacity(n);
                for _ in 0..n {
                    ids.push(self.u32()?);
                }
                Term::Ref(ErlRef {
                    node,
                    creation,
                    ids,
                })
            }
            101 => {
                let node = self.atom()?;
                let id = self.u32()?;
                let creation = self.u8()? as u32;
                Term::Ref(ErlRef {
                    node,
                    creation,
                    ids: vec![id],
                })
            }
            89 | 102 | 120 => {
                let node = self.atom()?;
                let id = if tag == 120 {
                    self.u64()?
                } else {
                    self.u32()? as u64
                };
                let creation = if tag == 102 {
                    self.u8()? as u32
                } else {
                    self.u32()?
                };
                Term::Port(ErlPort { node, id, creation })
            }
            113 => {
                let module = self.atom()?;
                let function = self.atom()?;
                let arity = match self.u8()? {
                    97 => self.u8()?,
                    _ => return Err(EtfError::Unsupported("a fun's arity past 255")),
                };
                Term::Fun(ErlFun::Export {
                    module,
                    function,
                    arity,
                })
            }
            112 => {
                // Its size counts itself: the rest is taken whole, as bytes, not read.
                let size = self.u32()? as usize;
                let rest = size.checked_sub(4).ok_or(EtfError::Truncated)?;
                let body = self.take(rest)?;
                let mut bytes = Vec::with_capacity(size);
                bytes.extend_from_slice(&(size as u32).to_be_bytes());
                bytes.extend_from_slice(body);
                Term::Fun(ErlFun::Closure(bytes))
            }
            117 => return Err(EtfError::Unsupported("a fun of the old format")),
            80 => return Err(EtfError::Unsupported("a compressed term")),
            121 => return Err(EtfError::Unsupported("a local term")),
            other => return Err(EtfError::UnknownTag(other)),
        })
    }
}
