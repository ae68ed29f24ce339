//! Generated cases, each compared byte for byte with serde_yaml: nested documents, strings built
//! from the pieces libyaml's rules turn on, in every position, and numbers.

use super::{Node, map, s, same, seq, yaml};

/// xorshift64: deterministic, no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const PIECES: &[&str] = &[
    "a",
    "Z9",
    "word",
    " ",
    "  ",
    ": ",
    ":",
    " #",
    "#",
    "-",
    "- ",
    "--- ",
    "---",
    "...",
    "?",
    "? ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&",
    "*",
    "!",
    "|",
    ">",
    "'",
    "\"",
    "%",
    "@",
    "`",
    "\\",
    "\n",
    "\n\n",
    "\t",
    "\r",
    "\r\n",
    "true",
    "True",
    "false",
    "null",
    "NULL",
    "~",
    "0x1F",
    "0o17",
    "0b101",
    "-0x1F",
    "1e3",
    "1E-3",
    ".inf",
    "-.inf",
    ".nan",
    "012",
    "+1",
    "-1",
    "+-1",
    "1_000",
    "0",
    "1.5",
    ".5",
    "5.",
    "123456789012345678901234567890123456789012",
    "é",
    "€",
    "😀",
    "\u{7}",
    "\0",
    "\u{1b}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{2029}",
    "\u{feff}",
    "\u{fffe}",
    "\u{e000}",
    "\u{10ffff}",
    "x: y",
    "a #b",
    "nan",
    "inf",
    "yes",
    "2010-09-09",
    "${AWS::Region}",
    "arn:aws:s3:::b/*",
    "<<",
    "=",
];

const CHARS: &[char] = &[
    'a', ' ', '\n', '\t', '\'', '"', '\\', ':', '-', '#', '~', '0', 'é', '\u{85}', '\u{2028}', '\u{feff}',
    '\0', '😀', '?', '\u{7f}', '\r',
];

const FIELDS: &[&str] = &[
    "Type",
    "a",
    "true",
    "null",
    "",
    " x",
    "x ",
    "a: b",
    "- x",
    "012",
    "é",
    "two\nlines",
    // Longer than a simple key may be (128 bytes).
    concat!(
        "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
        "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
    ),
];

fn string(rng: &mut Rng) -> String {
    let mut text = String::new();
    if rng.below(25) == 0 {
        let piece = rng.pick(PIECES);
        (0..60 + rng.below(140)).for_each(|_| text.push_str(piece));
        return text;
    }
    (0..rng.below(6)).for_each(|_| text.push_str(rng.pick(PIECES)));
    text
}

fn float(rng: &mut Rng) -> f64 {
    match rng.below(4) {
        0 => f64::from_bits(rng.next()),
        1 => rng.below(100_000) as f64 / 64.0 - 500.0,
        2 => 10f64.powi(rng.below(80) as i32 - 40) * rng.pick(&[1.0, 1.5, 3.0, -7.25]),
        _ => rng.pick(&[
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            f64::MAX,
            5e-324,
        ]),
    }
}

/// `plain`: only what reads back as the value serde_yaml serializes (no f32, no i128).
fn leaf(rng: &mut Rng, plain: bool) -> Node {
    match rng.below(if plain { 9 } else { 11 }) {
        0 => Node::Null,
        1 => Node::Bool(rng.below(2) == 0),
        2 => {
            let r = rng.next() as i64;
            Node::I64(rng.pick(&[0, -1, 42, i64::MIN, i64::MAX, r]))
        }
        3 => {
            let r = rng.next();
            Node::U64(rng.pick(&[0, 7, u64::MAX, r]))
        }
        4 => Node::F64(float(rng)),
        5 => Node::Char(rng.pick(CHARS)),
        6 => Node::UnitVariant(rng.pick(&["Retain", "true", "a b", "012"])),
        9 => {
            let r = (rng.next() as i128) << 64;
            Node::I128(rng.pick(&[i128::MIN, i128::MAX, -1, r]))
        }
        10 => Node::F32(f32::from_bits(rng.next() as u32)),
        _ => Node::Str(string(rng)),
    }
}

fn node(rng: &mut Rng, depth: usize, plain: bool) -> Node {
    if depth == 0 || rng.below(3) == 0 {
        return leaf(rng, plain);
    }
    let len = rng.below(5);
    match rng.below(4) {
        0 => Node::Seq((0..len).map(|_| node(rng, depth - 1, plain)).collect()),
        3 => {
            let mut fields: Vec<(&'static str, Node)> = Vec::new();
            for _ in 0..len {
                let name = rng.pick(FIELDS);
                if fields.iter().all(|(f, _)| *f != name) {
                    fields.push((name, node(rng, depth - 1, plain)));
                }
            }
            Node::Struct(fields)
        }
        kind => {
            let mut entries: Vec<(Node, Node)> = Vec::new();
            let mut seen = Vec::new();
            for _ in 0..len {
                let key = match rng.below(10) {
                    0 | 1 => leaf(rng, plain),
                    2 => node(rng, depth - 1, plain),
                    _ => Node::Str(string(rng)),
                };
                // Unique keys, so that the text reads back (serde_yaml refuses duplicates).
                let k = serde_yaml::to_value(&key).unwrap();
                if !seen.contains(&k) {
                    seen.push(k);
                    entries.push((key, node(rng, depth - 1, plain)));
                }
            }
            if kind == 1 {
                Node::Map(entries)
            } else {
                Node::LooseMap(entries)
            }
        }
    }
}

#[test]
fn generated_documents_are_written_as_serde_yaml_writes_them_and_read_back() {
    let (mut rng, mut failures) = (Rng(0x9E37_79B9_7F4A_7C15), 0);
    for case in 0..6000 {
        let plain = case % 2 == 0;
        let doc = node(&mut rng, 1 + case % 5, plain);
        let Some(text) = same(&doc) else {
            failures += 1;
            continue;
        };
        if plain {
            let back: serde_yaml::Value =
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(back, serde_yaml::to_value(&doc).unwrap(), "{text}");
        }
    }
    // Both fail on a one-entry map as the key of another; rare, so that most documents count.
    assert!(
        failures < 200,
        "{failures} of 6000 documents could not be written"
    );
}

#[test]
fn generated_strings_in_every_position() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for _ in 0..20_000 {
        let text = string(&mut rng);
        let doc = Node::Map(vec![(
            s(&text),
            seq([
                s(&text),
                map([(text.as_str(), s(&text))]),
                seq([s(&text)]),
                map([("k", seq([s(&text)]))]),
            ]),
        )]);
        let out = yaml(&doc);
        yaml(&s(&text));
        let back: serde_yaml::Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(back, serde_yaml::to_value(&doc).unwrap(), "{out}");
    }
    for c in CHARS.iter().chain(['€', '|', '\u{2029}', '\u{e000}'].iter()) {
        yaml(&Node::Map(vec![(Node::Char(*c), seq([Node::Char(*c)]))]));
    }
}

#[test]
fn generated_numbers() {
    // Powers of two, where the interval of decimals that read back is narrower below.
    let subnormal = (0..52).map(|i| 1u64 << i);
    subnormal
        .chain((1..2047).map(|e| e << 52))
        .for_each(|bits| drop(yaml(&f64::from_bits(bits))));
    let subnormal = (0..23).map(|i| 1u32 << i);
    subnormal
        .chain((1..255).map(|e| e << 23))
        .for_each(|bits| drop(yaml(&f32::from_bits(bits))));
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    // Integers over powers of two: short exact expansions, where ties between two shortest
    // candidates are (ryu takes the even one).
    for _ in 0..30_000 {
        let (k, j) = (rng.below(64) as i32, rng.below(40) as i32);
        yaml(&(
            (rng.next() >> 11) as f64 / 2f64.powi(k),
            (rng.next() >> 40) as f32 / 2f32.powi(j),
        ));
    }
    for _ in 0..30_000 {
        let (f, g, i) = (float(&mut rng), f32::from_bits(rng.next() as u32), rng.next());
        yaml(&(
            f,
            g,
            i as i64,
            i,
            (i as i128) << 40,
            Node::I64(-((i >> 1) as i64)),
        ));
    }
}
