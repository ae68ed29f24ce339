//! serde_yaml 0.9.34 is the oracle: every text here is compared byte for byte with what it
//! writes for the same value, on named cases (which also state the expected text, so they read
//! as the rules), on the real templates, and on generated documents, strings and numbers.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct, Serializer};

use super::{Error, to_string};

/// A value built for the tests: every shape serde_yaml's serializer sees.
#[derive(Clone, Debug)]
enum Node {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    I128(i128),
    F64(f64),
    F32(f32),
    Char(char),
    Str(String),
    Seq(Vec<Node>),
    /// `serialize_map(Some(len))` and `serialize_entry`, as `BTreeMap` and `serde_json::Value` do.
    Map(Vec<(Node, Node)>),
    /// `serialize_map(None)`, `serialize_key` and `serialize_value`.
    LooseMap(Vec<(Node, Node)>),
    Struct(Vec<(&'static str, Node)>),
    UnitVariant(&'static str),
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::I64(v) => s.serialize_i64(*v),
            Node::U64(v) => s.serialize_u64(*v),
            Node::I128(v) => s.serialize_i128(*v),
            Node::F64(v) => s.serialize_f64(*v),
            Node::F32(v) => s.serialize_f32(*v),
            Node::Char(c) => s.serialize_char(*c),
            Node::Str(v) => s.serialize_str(v),
            Node::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                items.iter().try_for_each(|i| seq.serialize_element(i))?;
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                entries.iter().try_for_each(|(k, v)| map.serialize_entry(k, v))?;
                map.end()
            }
            Node::LooseMap(entries) => {
                let mut map = s.serialize_map(None)?;
                for (k, v) in entries {
                    map.serialize_key(k)?;
                    map.serialize_value(v)?;
                }
                map.end()
            }
            Node::Struct(fields) => {
                let mut st = s.serialize_struct("S", fields.len())?;
                fields.iter().try_for_each(|(k, v)| st.serialize_field(k, v))?;
                st.end()
            }
            Node::UnitVariant(v) => s.serialize_unit_variant("E", 0, v),
        }
    }
}

fn s(v: &str) -> Node {
    Node::Str(v.to_owned())
}

fn seq<const N: usize>(items: [Node; N]) -> Node {
    Node::Seq(items.into())
}

fn map<const N: usize>(entries: [(&str, Node); N]) -> Node {
    Node::Map(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

/// Our text, after checking that it is serde_yaml's; `None` where both fail.
#[track_caller]
fn same<T: Serialize + ?Sized + std::fmt::Debug>(value: &T) -> Option<String> {
    match (to_string(value), serde_yaml::to_string(value)) {
        (Ok(ours), Ok(theirs)) => {
            assert_eq!(ours, theirs, "for {value:?}");
            Some(ours)
        }
        (Err(_), Err(_)) => None,
        (ours, theirs) => panic!("for {value:?}: {ours:?} but serde_yaml {theirs:?}"),
    }
}

#[track_caller]
fn yaml<T: Serialize + ?Sized + std::fmt::Debug>(value: &T) -> String {
    same(value).unwrap_or_else(|| panic!("{value:?} cannot be written"))
}

#[test]
fn a_document_has_no_header_and_ends_with_a_line_break() {
    assert_eq!(yaml(&map([("a", s("b")), ("c", Node::I64(-1))])), "a: b\nc: -1\n");
}

#[test]
fn a_sequence_under_a_key_is_not_indented() {
    assert_eq!(yaml(&map([("k", seq([s("a"), s("b")]))])), "k:\n- a\n- b\n");
}

#[test]
fn mappings_in_a_sequence_start_on_the_dash_line() {
    let doc = seq([
        map([("k", s("v")), ("k2", map([("x", Node::Null)]))]),
        seq([s("a"), s("b")]),
    ]);
    assert_eq!(yaml(&doc), "- k: v\n  k2:\n    x: null\n- - a\n  - b\n");
}

#[test]
fn empty_collections_are_flow() {
    let doc = map([("a", seq([])), ("b", map([])), ("c", seq([seq([]), map([])]))]);
    assert_eq!(yaml(&doc), "a: []\nb: {}\nc:\n- []\n- {}\n");
}

#[test]
fn scalars_at_the_root() {
    let text: Vec<String> = [Node::Null, Node::Bool(true), Node::U64(u64::MAX), seq([]), s("x")]
        .iter()
        .map(yaml)
        .collect();
    assert_eq!(
        text,
        ["null\n", "true\n", "18446744073709551615\n", "[]\n", "x\n"]
    );
}

#[test]
fn none_unit_and_unit_structs_are_null() {
    #[derive(Debug, Serialize)]
    struct Unit;
    #[derive(Debug, Serialize)]
    struct Wrapper(Option<u8>);
    #[derive(Debug, Serialize)]
    struct Fields {
        a: Option<u8>,
        b: (),
        c: Unit,
        d: Wrapper,
    }
    let doc = Fields {
        a: None,
        b: (),
        c: Unit,
        d: Wrapper(Some(7)),
    };
    assert_eq!(yaml(&doc), "a: null\nb: null\nc: null\nd: 7\n");
}

/// Each value as an item of a sequence, checked against the item's expected text.
#[track_caller]
fn items<T: Serialize + std::fmt::Debug>(cases: &[(T, &str)]) {
    let values: Vec<&T> = cases.iter().map(|(value, _)| value).collect();
    let expected: String = cases.iter().map(|(_, text)| format!("- {text}\n")).collect();
    assert_eq!(yaml(&values), expected);
}

#[test]
fn floats_as_ryu_writes_them() {
    items(&[
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (0.5, "0.5"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e16"),
        (1.5e300, "1.5e300"),
        (1e-5, "0.00001"),
        (1e-7, "1e-7"),
        (2.5e-7, "2.5e-7"),
        (f64::INFINITY, ".inf"),
        (f64::NEG_INFINITY, "-.inf"),
        (f64::NAN, ".nan"),
    ]);
}

#[test]
fn f32_use_exponents_from_1e13_and_below_1e_minus_6() {
    items(&[
        (1e12f32, "1000000000000.0"),
        (1e13, "1e13"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (0.1, "0.1"),
        (577_449.0 / 16.0, "36090.562"), // 36090.5625: halfway between two shortest, the even one
    ]);
}

#[test]
fn integers_of_every_width() {
    let v = (i8::MIN, u8::MAX, i64::MIN, i128::MIN, u128::MAX);
    let expected = concat!(
        "- -128\n- 255\n- -9223372036854775808\n",
        "- -170141183460469231731687303715884105728\n- 340282366920938463463374607431768211455\n"
    );
    assert_eq!(yaml(&v), expected);
}

#[test]
fn strings_that_would_read_as_another_type_are_single_quoted() {
    items(&[
        ("", "''"),
        ("true", "'true'"),
        ("False", "'False'"),
        ("null", "'null'"),
        ("~", "'~'"),
        ("12", "'12'"),
        ("+1", "'+1'"),
        ("-0x1F", "'-0x1F'"),
        ("0x1F", "'0x1F'"),
        ("0o17", "'0o17'"),
        ("1e3", "'1e3'"),
        (".inf", "'.inf'"),
        ("-.INF", "'-.INF'"),
        (".NaN", "'.NaN'"),
        ("012", "'012'"),   // digits_but_not_number
        ("-012", "'-012'"), // digits_but_not_number
        ("1.5", "'1.5'"),
    ]);
}

#[test]
fn strings_that_only_look_like_numbers_stay_plain() {
    items(&[
        ("1_000", "1_000"),
        ("0x", "0x"),
        ("+-1", "+-1"),
        ("nan", "nan"),
        ("inf", "inf"),
        ("yes", "yes"),
        ("2010-09-09", "2010-09-09"),
        ("1e999", "1e999"), // not a finite float
        ("0x+1", "0x+1"),
    ]);
}

#[test]
fn indicators_make_a_string_single_quoted() {
    items(&[
        ("- a", "'- a'"),
        ("-a", "-a"),
        ("a: b", "'a: b'"),
        ("a:b", "a:b"),
        ("a:", "'a:'"),
        ("a #b", "'a #b'"),
        ("a#b", "a#b"),
        ("#a", "'#a'"),
        ("[a", "'[a'"),
        ("a[b", "a[b"),
        ("?a", "?a"),
        ("? a", "'? a'"),
        ("---", "'---'"),
        ("...x", "'...x'"),
        ("*a", "'*a'"),
        ("!a", "'!a'"),
        ("@a", "'@a'"),
    ]);
}

#[test]
fn edge_spaces_and_quotes() {
    items(&[
        (" a", "' a'"),
        ("a ", "'a '"),
        ("a b", "a b"),
        ("it's", "it's"),
        ("'", "''''"),
        ("\"q\"", "'\"q\"'"),
        ("a\\b", "a\\b"),
    ]);
}

#[test]
fn special_characters_are_double_quoted_with_libyaml_escapes() {
    items(&[
        ("\t", r#""\t""#),
        ("a\u{7}", r#""a\a""#),
        ("\0", r#""\0""#),
        ("\r", r#""\r""#),
        ("\u{1b}", r#""\e""#),
        ("\u{7f}", r#""\x7F""#),
        ("\u{85}", r#""\N""#),
        ("\u{feff}x", r#""\uFEFFx""#),
        ("\u{fffe}", r#""\uFFFE""#),
        ("\u{10ffff}", "\u{10ffff}"), // printable: as is
        ("\"\\\t", r#""\"\\\t""#),
    ]);
}

#[test]
fn unicode_is_written_as_is() {
    items(&[
        ("é", "é"),
        ("€ 5", "€ 5"),
        ("😀", "😀"),
        ("\u{a0}", "\u{a0}"),
        ("\u{e000}", "\u{e000}"),
    ]);
}

#[test]
fn a_line_separator_is_a_line_break_inside_single_quotes() {
    assert_eq!(yaml(&map([("k", s("a\u{2028}b"))])), "k: 'a\u{2028}  b'\n");
}

#[test]
fn multi_line_strings_are_literal_blocks_with_chomping_and_indentation_hints() {
    let doc = map([
        ("clip", s("a\nb\n")),
        ("strip", s("a\nb")),
        ("keep", s("a\n\n")),
        ("indent", s(" a\n b")),
    ]);
    assert_eq!(
        yaml(&doc),
        "clip: |\n  a\n  b\nstrip: |-\n  a\n  b\nkeep: |+\n  a\n\nindent: |2-\n   a\n   b\n"
    );
}

#[test]
fn literal_blocks_nest_two_columns_under_their_parent() {
    assert_eq!(yaml(&seq([seq([s("a\n\nb")])])), "- - |-\n    a\n\n    b\n");
}

#[test]
fn a_multi_line_string_that_cannot_be_a_literal_block_is_double_quoted() {
    items(&[
        ("a\nb ", r#""a\nb ""#),     // a trailing space
        ("a \nb", r#""a \nb""#),     // a space before a break
        ("\ta\nb", r#""\ta\nb""#),   // a special character
        ("a\n b\r", r#""a\n b\r""#), // a special character
    ]);
}

#[test]
fn a_char_is_single_quoted_and_a_line_break_char_doubled() {
    assert_eq!(
        yaml(&map([("a", Node::Char('a')), ("nl", Node::Char('\n'))])),
        "a: 'a'\nnl: '\n\n  '\n"
    );
}

#[test]
fn keys_are_styled_like_values() {
    let doc = Node::Map(vec![
        (s("true"), Node::I64(1)),
        (s("a: b"), Node::I64(2)),
        (s(""), Node::I64(3)),
        (Node::I64(4), s("four")),
        (Node::Null, Node::Bool(false)),
        (seq([]), map([])),
    ]);
    assert_eq!(
        yaml(&doc),
        "'true': 1\n'a: b': 2\n'': 3\n4: four\nnull: false\n[]: {}\n"
    );
}

#[test]
fn long_multi_line_and_collection_keys_are_complex() {
    let long = "k".repeat(129);
    let doc = Node::Map(vec![
        (s(&"k".repeat(128)), Node::I64(1)),
        (s(&long), Node::I64(2)),
        (s("a\nb"), seq([s("x")])),
        (seq([s("a"), s("b")]), map([("c", s("d"))])),
    ]);
    let expected = format!(
        "{}: 1\n? {long}\n: 2\n? |-\n  a\n  b\n: - x\n? - a\n  - b\n: c: d\n",
        "k".repeat(128)
    );
    assert_eq!(yaml(&doc), expected);
}

#[test]
fn unit_variants_are_their_names_and_struct_fields_are_keys() {
    #[derive(Debug, Serialize)]
    enum Policy {
        Retain,
        #[serde(rename = "true")]
        Yes,
    }
    #[derive(Debug, Serialize)]
    #[allow(non_snake_case)]
    struct Entry {
        DeletionPolicy: Policy,
        #[serde(rename = "null")]
        other: Policy,
    }
    let doc = Entry {
        DeletionPolicy: Policy::Retain,
        other: Policy::Yes,
    };
    assert_eq!(yaml(&doc), "DeletionPolicy: Retain\n'null': 'true'\n");
}

#[test]
fn what_serde_yaml_writes_as_a_tag_is_refused() {
    #[derive(Debug, Serialize)]
    enum E {
        New(u8),
        Tuple(u8, u8),
        Struct { a: u8 },
    }
    /// Displays as the pieces `!` and `Tag`, as serde_yaml's own tagged values do.
    struct Bang(&'static str);
    impl std::fmt::Display for Bang {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "!{}", self.0)
        }
    }
    struct TagKey;
    impl Serialize for TagKey {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            struct Key;
            impl Serialize for Key {
                fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.collect_str(&Bang("Tag"))
                }
            }
            let mut map = s.serialize_map(Some(1))?;
            map.serialize_entry(&Key, "v")?;
            map.end()
        }
    }
    /// A broken `Serialize`: a key, no value.
    struct KeyOnly;
    impl Serialize for KeyOnly {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            map.serialize_key("k")?;
            map.end()
        }
    }
    // A one-entry map as the key of another: serde_yaml fails ("expected DOCUMENT-START or
    // STREAM-END").
    let nested = Node::Map(vec![(map([("a", s("b"))]), s("c"))]);
    let errors = [
        to_string(&E::New(1)),
        to_string(&E::Tuple(1, 2)),
        to_string(&E::Struct { a: 1 }),
        to_string(&TagKey),
        to_string(serde_bytes_like()),
        to_string(&nested),
        to_string(&KeyOnly),
    ];
    assert_eq!(
        errors,
        [
            Err(Error::TaggedVariant("E", "New")),
            Err(Error::TaggedVariant("E", "Tuple")),
            Err(Error::TaggedVariant("E", "Struct")),
            Err(Error::TaggedKey("!Tag".into())),
            Err(Error::Bytes),
            Err(Error::OneEntryMapKey),
            Err(Error::KeyWithoutValue),
        ]
    );
    assert!(serde_yaml::to_string(&nested).is_err() && serde_yaml::to_string(&KeyOnly).is_err());
    // What serde_yaml does instead.
    assert_eq!(serde_yaml::to_string(&TagKey).unwrap(), "!Tag v\n");
}

/// A value that serializes as bytes.
fn serde_bytes_like() -> &'static impl Serialize {
    struct Bytes;
    impl Serialize for Bytes {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(b"x")
        }
    }
    &Bytes
}

#[test]
fn the_real_templates_are_written_as_serde_yaml_writes_them() {
    for env in crate::Env::ALL {
        let synthesized = crate::synth(env).unwrap();
        // The document's values, in a `serde_json::Value`'s key order (the `Document` is private
        // to template.rs; the snapshots, which serde_yaml wrote, check it in its own order).
        let value = synthesized.to_value();
        assert_eq!(
            to_string(&value).unwrap(),
            serde_yaml::to_string(&value).unwrap(),
            "{env}"
        );
        let back: serde_json::Value = serde_yaml::from_str(&synthesized.to_yaml()).unwrap();
        assert_eq!(back, value, "{env}");
    }
}

/// The generated documents, strings and numbers.
mod generated;
