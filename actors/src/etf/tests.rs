use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;

fn pid() -> ErlPid {
    ErlPid {
        node: Atom::from("nonode@nohost"),
        id: 9,
        serial: 0,
        creation: 0,
    }
}

#[test]
fn decodes_what_erlang_encodes() {
    // term_to_binary({add, 5}) on OTP 25.
    let t = decode(&[131, 104, 2, 100, 0, 3, 97, 100, 100, 97, 5]).unwrap();
    assert_eq!(t, Term::tuple([Term::atom("add"), Term::Int(5)]));
    // [1, 2 | c]
    let t = decode(&[131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 100, 0, 1, 99]).unwrap();
    assert_eq!(
        t,
        Term::Improper(vec![Term::Int(1), Term::Int(2)], Box::new(Term::atom("c")))
    );
    // #{a => <<"x">>, 1 => -300}
    let bytes = [
        131, 116, 0, 0, 0, 2, 97, 1, 98, 255, 255, 254, 212, 100, 0, 1, 97, 109, 0, 0, 0, 1, 120,
    ];
    assert_eq!(
        decode(&bytes).unwrap(),
        Term::Map(vec![
            (Term::Int(1), Term::Int(-300)),
            (Term::atom("a"), Term::binary("x"))
        ])
    );
    // {123456789012345678901234567890, -1.5, "ab", [], self()}
    let bytes = [
        131, 104, 5, 110, 13, 0, 210, 10, 63, 78, 238, 224, 115, 195, 246, 15, 233, 142, 1, 70,
        191, 248, 0, 0, 0, 0, 0, 0, 107, 0, 2, 97, 98, 106, 88, 100, 0, 13, 110, 111, 110, 111,
        100, 101, 64, 110, 111, 104, 111, 115, 116, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(
        decode(&bytes).unwrap(),
        Term::tuple([
            Term::Int(123456789012345678901234567890),
            Term::Float(-1.5),
            Term::List(vec![Term::Int(97), Term::Int(98)]),
            Term::List(vec![]),
            Term::Pid(pid()),
        ])
    );
}

#[test]
fn every_kind_of_term_round_trips() {
    let terms = [
        Term::atom("ok"),
        Term::atom("with space"),
        Term::atom(&"a".repeat(255)),
        Term::Int(0),
        Term::Int(255),
        Term::Int(-1),
        Term::Int(i32::MAX as i128 + 1),
        Term::Int(i64::MIN as i128),
        Term::Int(u64::MAX as i128),
        Term::Int(i128::MIN),
        Term::Int(i128::MAX),
        Term::Float(0.1),
        Term::binary(""),
        Term::binary([0, 255, 3]),
        Term::Tuple(vec![]),
        Term::Tuple((0..300).map(Term::Int).collect()),
        Term::List(vec![]),
        Term::List(vec![Term::atom("a"), Term::List(vec![])]),
        Term::Improper(vec![Term::atom("alias")], Box::new(Term::Int(1))),
        Term::Map(vec![(Term::atom("k"), Term::binary("v"))]),
        Term::Pid(pid()),
        Term::Ref(ErlRef {
            node: Atom::from("a@h"),
            creation: 7,
            ids: vec![1, 2, 3],
        }),
        Term::Port(ErlPort {
            node: Atom::from("a@h"),
            id: 1 << 40,
            creation: 3,
        }),
    ];
    for t in terms {
        assert_eq!(decode(&encode(&t)).unwrap(), t, "{t:?}");
    }
}

#[test]
fn hostile_input_is_refused_without_harm() {
    // A list claiming four billion elements in a few bytes: refused before allocating.
    assert_eq!(
        decode(&[131, 108, 255, 255, 255, 255, 106]),
        Err(EtfError::Truncated)
    );
    assert_eq!(
        decode(&[131, 116, 255, 255, 255, 255]),
        Err(EtfError::Truncated)
    );
    assert_eq!(
        decode(&[131, 105, 255, 255, 255, 255]),
        Err(EtfError::Truncated)
    );
    assert_eq!(
        decode(&[131, 109, 255, 255, 255, 255, 1]),
        Err(EtfError::Truncated)
    );
    // Nesting past the limit: refused, not recursed into.
    let mut deep = vec![131];
    for _ in 0..100_000 {
        deep.extend_from_slice(&[104, 1]);
    }
    deep.push(106);
    assert_eq!(decode(&deep), Err(EtfError::TooDeep));
    // Integers past 128 bits, funs of the old format, compressed terms, unknown tags,
    // trailing bytes, a closure whose size runs past the input.
    let mut big = vec![131, 110, 17, 0];
    big.extend_from_slice(&[1; 17]);
    assert_eq!(decode(&big), Err(EtfError::IntTooLarge));
    assert!(matches!(decode(&[131, 117]), Err(EtfError::Unsupported(_))));
    assert_eq!(decode(&[131, 112, 0, 0, 1, 0, 1]), Err(EtfError::Truncated));
    assert_eq!(decode(&[131, 112, 0, 0, 0, 2]), Err(EtfError::Truncated));
    assert!(matches!(
        decode(&[131, 80, 0, 0, 0, 1]),
        Err(EtfError::Unsupported(_))
    ));
    assert_eq!(decode(&[131, 1]), Err(EtfError::UnknownTag(1)));
    assert_eq!(decode(&[130, 106]), Err(EtfError::BadVersion(130)));
    assert_eq!(decode(&[131, 106, 0]), Err(EtfError::Trailing(1)));
    assert_eq!(decode(&[131, 119, 2, 0xff, 0xfe]), Err(EtfError::BadAtom));
    // Floats in the old text form: read, but never as a NaN or an infinity, which no float
    // term is (and which would not re-encode to themselves).
    let text = |t: &str| {
        let mut b = vec![131, 99];
        let mut field = t.as_bytes().to_vec();
        field.resize(31, 0);
        b.extend_from_slice(&field);
        b
    };
    assert_eq!(
        decode(&text("1.50000000000000000000e+00")),
        Ok(Term::Float(1.5))
    );
    assert_eq!(decode(&text("nan")), Err(EtfError::BadFloat));
    assert_eq!(decode(&text("1e400")), Err(EtfError::BadFloat));
    // Every prefix of a valid term is truncated, never a panic.
    let whole = encode(&Term::tuple([
        Term::Pid(pid()),
        Term::binary("xyz"),
        Term::Int(-1 << 70),
    ]));
    for n in 0..whole.len() {
        assert!(decode(&whole[..n]).is_err());
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Shape {
    Empty,
    NotFound,
    Circle(f64),
    Rect(u32, u32),
    Named { name: String, sides: u8 },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Order {
    id: u64,
    items: Vec<String>,
    note: Option<String>,
    shape: Shape,
}

#[test]
fn rust_types_map_to_the_terms_erlang_code_expects() {
    assert_eq!(to_term(&true).unwrap(), Term::atom("true"));
    assert_eq!(to_term(&()).unwrap(), Term::atom("ok"));
    assert_eq!(to_term(&Shape::NotFound).unwrap(), Term::atom("not_found"));
    assert_eq!(
        to_term(&Shape::Rect(1, 2)).unwrap(),
        Term::tuple([Term::atom("rect"), Term::Int(1), Term::Int(2)])
    );
    assert_eq!(
        to_term(&vec!["a"]).unwrap(),
        Term::List(vec![Term::binary("a")])
    );
    let order = Order {
        id: u64::MAX,
        items: vec!["x".into()],
        note: None,
        shape: Shape::Named {
            name: "tri".into(),
            sides: 3,
        },
    };
    let t = to_term(&order).unwrap();
    assert_eq!(
        t,
        Term::Map(vec![
            (Term::atom("id"), Term::Int(u64::MAX as i128)),
            (Term::atom("items"), Term::List(vec![Term::binary("x")])),
            (Term::atom("note"), Term::atom("undefined")),
            (
                Term::atom("shape"),
                Term::tuple([
                    Term::atom("named"),
                    Term::Map(vec![
                        (Term::atom("name"), Term::binary("tri")),
                        (Term::atom("sides"), Term::Int(3)),
                    ])
                ])
            ),
        ])
    );
    assert_eq!(from_term::<Order>(&t).unwrap(), order);
    for shape in [Shape::Empty, Shape::Circle(1.5), Shape::Rect(3, 4)] {
        assert_eq!(
            from_term::<Shape>(&to_term(&shape).unwrap()).unwrap(),
            shape
        );
    }
}

#[test]
fn erlang_spellings_read_as_rust_values() {
    // Strings as charlists and atoms; CamelCase variant names as they are.
    let charlist = Term::List("héllo".chars().map(|c| Term::Int(c as i128)).collect());
    assert_eq!(from_term::<String>(&charlist).unwrap(), "héllo");
    assert_eq!(from_term::<String>(&Term::atom("abc")).unwrap(), "abc");
    assert_eq!(from_term::<String>(&Term::List(vec![])).unwrap(), "");
    assert_eq!(
        from_term::<Shape>(&Term::atom("NotFound")).unwrap(),
        Shape::NotFound
    );
    assert_eq!(from_term::<Option<u8>>(&Term::atom("nil")).unwrap(), None);
    assert_eq!(
        from_term::<Vec<u8>>(&Term::binary([1, 2])).unwrap(),
        vec![1, 2]
    );
    let map = Term::Map(vec![(Term::binary("k"), Term::Int(1))]);
    assert_eq!(
        from_term::<BTreeMap<String, i32>>(&map).unwrap(),
        BTreeMap::from([("k".to_string(), 1)])
    );
}

#[test]
fn mismatches_are_errors_that_say_what_was_found() {
    let err = from_term::<u8>(&Term::Int(256)).unwrap_err();
    assert!(err.to_string().contains("256"), "{err}");
    let err = from_term::<String>(&Term::Int(1)).unwrap_err();
    assert!(err.to_string().contains("an integer"), "{err}");
    let err = from_term::<Shape>(&Term::atom("hexagon")).unwrap_err();
    assert!(err.to_string().contains("hexagon"), "{err}");
    assert!(from_term::<(u8, u8)>(&Term::tuple([Term::Int(1)])).is_err());
    assert!(to_term(&u128::MAX).is_err());
}

#[test]
fn terms_atoms_and_pids_pass_through_serde() {
    let inner = Term::tuple([Term::Pid(pid()), Term::atom("x")]);
    let value = (inner.clone(), Atom::from("hello"), pid());
    let t = to_term(&value).unwrap();
    assert_eq!(
        t,
        Term::tuple([inner.clone(), Term::atom("hello"), Term::Pid(pid())])
    );
    let back: (Term, Atom, ErlPid) = from_term(&t).unwrap();
    assert_eq!(back, value);
    // Through CBOR as well, so terms cross between Rust nodes unchanged.
    let mut bytes = Vec::new();
    ciborium::into_writer(&value, &mut bytes).unwrap();
    let back: (Term, Atom, ErlPid) = ciborium::from_reader(&bytes[..]).unwrap();
    assert_eq!(back, value);
}

#[test]
fn names_become_erlang_atoms() {
    assert_eq!(snake_case("NotFound"), "not_found");
    assert_eq!(snake_case("Ok"), "ok");
    assert_eq!(snake_case("HTTPError"), "http_error");
    assert_eq!(snake_case("already_snake"), "already_snake");
    assert_eq!(snake_case("V2Thing"), "v2_thing");
}

#[test]
fn funs_are_carried_as_data() {
    use crate::etf::ErlFun;
    // fun global:random_exit_name/3, as Erlang writes it.
    let export = Term::Fun(ErlFun::Export {
        module: Atom::from("global"),
        function: Atom::from("random_exit_name"),
        arity: 3,
    });
    let bytes = encode(&export);
    assert_eq!(&bytes[..2], &[131, 113]);
    assert_eq!(decode(&bytes).unwrap(), export);
    assert_eq!(format!("{export:?}"), "fun global:random_exit_name/3");
    // A closure: its bytes kept whole, whatever they say, and sent back as they came.
    let mut closure = vec![131, 112, 0, 0, 0, 9];
    closure.extend_from_slice(&[1, 2, 3, 4, 5]);
    let term = decode(&closure).unwrap();
    assert!(matches!(term, Term::Fun(ErlFun::Closure(_))));
    assert_eq!(encode(&term), closure);
}
