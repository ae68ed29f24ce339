//! Block YAML written straight into a `String`, byte for byte as serde_yaml 0.9.34 writes it (with
//! unsafe-libyaml 0.2.11's emitter, `unicode = true`, `width = -1`), which was 6 of the 15 ms of
//! `cargo xtask synth` and is deprecated. Styles are chosen as serde_yaml's `ser.rs` does; the rest
//! follows libyaml's `emitter.rs`, function by function (named below), except that a collection's
//! start waits for its first element or its end where libyaml looks an event ahead. What serde_yaml
//! writes as a `!Tag` or fails on is an [`Error`]: never other YAML. The tests hold it as the oracle.

use std::fmt::{self, Display, Write as _};

use serde::ser::{self, Serialize};

use scalar::{Analysis, analyze, is_break, is_printable, reads_as_non_string};

mod scalar;

/// What cannot be written as serde_yaml writes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Custom(String),
    #[error("YAML has no bytes")]
    Bytes,
    #[error("enum variant {0}::{1} has data, which serde_yaml writes as a `!{1}` tag: not supported")]
    TaggedVariant(&'static str, &'static str),
    #[error("map key {0:?} would be a `!` tag in serde_yaml: not supported")]
    TaggedKey(String),
    #[error("a one-entry map as the key of a one-entry map, which serde_yaml fails to write")]
    OneEntryMapKey,
    #[error("a map ended with a key that has no value")]
    KeyWithoutValue,
}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}

/// The value as one YAML document, as `serde_yaml::to_string` writes it.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let mut ser = Serializer {
        out: String::with_capacity(1 << 16),
        indent: -1,
        whitespace: true,
        indention: true,
        ..Serializer::default()
    };
    value.serialize(&mut ser)?;
    // yaml_emitter_emit_document_end, implicit. (serde_yaml never ends the stream, where a `...` could be.)
    ser.write_indent();
    Ok(ser.out)
}

/// A block collection being written: a sequence, or a map whose next node is a key, or a value
/// (of a simple key, `k: v`, or of a complex one, `? k` then `: v`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    Seq,
    Key,
    Value { simple: bool },
}

/// The styles serde_yaml asks for (its `Any` is plain) and double-quoted, libyaml's last resort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// libyaml's emitter state, as far as output depends on it. The column is counted in bytes since
/// the last break: where it decides anything, the line holds only ASCII indicators and spaces.
#[derive(Default)]
struct Serializer {
    out: String,
    indent: i32,
    whitespace: bool,
    indention: bool,
    line_start: usize,
    /// The open block collections, with the indentation to restore at their end.
    frames: Vec<(Frame, i32)>,
    /// A collection started and not yet written: whether it is empty (`[]`, `{}`) is not known.
    pending: Option<Frame>,
    /// libyaml's `mapping_context` of the node being written.
    mapping: bool,
    /// serde_yaml's `CheckForTag`: the key of a map announced with one entry comes next.
    tag_check: bool,
}

type Result<T = (), E = Error> = std::result::Result<T, E>;

impl Serializer {
    /// yaml_emitter_write_indent.
    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        let column = self.out.len() - self.line_start;
        if !self.indention || column > indent || (column == indent && !self.whitespace) {
            self.out.push('\n');
            self.line_start = self.out.len();
        }
        let pad = indent - (self.out.len() - self.line_start);
        self.out.extend(std::iter::repeat_n(' ', pad));
        (self.whitespace, self.indention) = (true, true);
    }

    /// yaml_emitter_write_indicator.
    fn indicator(&mut self, text: &str, need_whitespace: bool, is_whitespace: bool, is_indention: bool) {
        if need_whitespace && !self.whitespace {
            self.out.push(' ');
        }
        self.out.push_str(text);
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    /// What the enclosing collection writes before a node: yaml_emitter_emit_block_sequence_item,
    /// _block_mapping_key (`simple_ok` is yaml_emitter_check_simple_key's verdict) and
    /// _block_mapping_value. Returns the node's `simple_key_context`.
    fn prefix(&mut self, simple_ok: bool) -> bool {
        self.tag_check = false;
        let Some((frame, _)) = self.frames.last_mut() else {
            self.mapping = false;
            return false;
        };
        self.mapping = *frame != Frame::Seq;
        match *frame {
            Frame::Seq => {
                self.write_indent();
                self.indicator("-", true, false, true);
            }
            Frame::Key => {
                *frame = Frame::Value { simple: simple_ok };
                self.write_indent();
                if !simple_ok {
                    self.indicator("?", true, false, true);
                }
                return simple_ok;
            }
            Frame::Value { simple } => {
                *frame = Frame::Key;
                if !simple {
                    self.write_indent();
                }
                self.indicator(":", !simple, false, !simple);
            }
        }
        false
    }

    /// A waiting collection has an element: a block one (yaml_emitter_emit_sequence_start and
    /// _mapping_start), indented by 2 (yaml_emitter_increase_indent) but for a sequence that is a
    /// map's key or value on the line of its indicator (`key:\n- a`).
    fn open_pending(&mut self) {
        if let Some(frame) = self.pending.take() {
            self.prefix(false);
            let indentless = frame == Frame::Seq && self.mapping && !self.indention;
            let outer = self.indent;
            self.indent = outer.max(0) + if indentless || outer < 0 { 0 } else { 2 };
            self.frames.push((frame, outer));
        }
    }

    fn start(&mut self, frame: Frame) -> Result<&mut Self> {
        self.open_pending();
        self.pending = Some(frame);
        Ok(self)
    }

    /// The end of a collection. One with no element is written in flow style, `[]` or `{}`
    /// (yaml_emitter_check_empty_sequence, _mapping), and can be a simple key.
    fn end(&mut self) -> Result {
        if let Some(frame) = self.pending.take() {
            self.prefix(true);
            let text = if frame == Frame::Seq { "[]" } else { "{}" };
            self.indicator(&text[..1], true, true, false);
            self.indicator(&text[1..], false, false, false);
            return Ok(());
        }
        let frame = self.frames.pop();
        self.indent = frame.map_or(-1, |(_, outer)| outer);
        match frame {
            Some((Frame::Value { .. }, _)) => Err(Error::KeyWithoutValue),
            _ => Ok(()),
        }
    }

    /// What serde_yaml writes as a plain scalar (numbers, booleans, null).
    fn plain(&mut self, text: impl Display) -> Result {
        self.scalar(&text.to_string(), Some(Style::Plain))
    }

    /// yaml_emitter_emit_scalar, with yaml_emitter_select_scalar_style's fallbacks. A string (`asked`
    /// None) is literal if it has a `\n`, single-quoted if it would read as another type, else plain.
    fn scalar(&mut self, value: &str, asked: Option<Style>) -> Result {
        self.open_pending();
        let Analysis {
            newline,
            multiline,
            plain,
            single_quoted,
            literal,
        } = analyze(value);
        let asked = asked.unwrap_or(match () {
            _ if newline => Style::Literal,
            _ if reads_as_non_string(value) => Style::Single,
            _ => Style::Plain,
        });
        let simple_key = self.prefix(!multiline && value.len() <= 128);
        // (libyaml's rules for a multi-line simple key and an empty plain one cannot apply here.)
        let style = match asked {
            Style::Plain if plain => Style::Plain,
            Style::Plain | Style::Single if single_quoted => Style::Single,
            Style::Literal if literal && !simple_key => Style::Literal,
            _ => Style::Double,
        };
        let outer = self.indent;
        self.indent = outer.max(0) + 2;
        match style {
            // yaml_emitter_write_plain_scalar: no breaks (they are never plain), no folding.
            Style::Plain => self.indicator(value, !value.is_empty(), false, false),
            Style::Single => self.lines(value, true),
            Style::Double => self.double_quoted(value),
            Style::Literal => self.literal(value),
        }
        self.indent = outer;
        Ok(())
    }

    /// A single-quoted (yaml_emitter_write_single_quoted_scalar) or literal scalar's text: breaks as
    /// they are, the line after one indented; quoted, `'` doubled and `\n` twice (one would fold).
    fn lines(&mut self, value: &str, quoted: bool) {
        if quoted {
            self.indicator("'", true, false, false);
        }
        let (mut rest, mut breaks) = (value, !quoted);
        while !rest.is_empty() {
            let (text, tail) = rest.split_at(rest.find(is_break).unwrap_or(rest.len()));
            if !text.is_empty() {
                if breaks {
                    self.write_indent();
                }
                for part in text.split_inclusive('\'') {
                    self.out.push_str(part);
                    if quoted && part.ends_with('\'') {
                        self.out.push('\'');
                    }
                }
                (self.indention, breaks) = (false, false);
            }
            let Some(c) = tail.chars().next() else { break };
            if quoted && !breaks && c == '\n' {
                self.out.push('\n');
            }
            self.out.push(c);
            self.line_start = self.out.len();
            (self.indention, breaks, rest) = (true, true, &tail[c.len_utf8()..]);
        }
        if quoted && breaks {
            self.write_indent();
        }
        if quoted {
            self.indicator("'", false, false, false);
        }
    }

    /// yaml_emitter_write_double_quoted_scalar: what is not printable, breaks, `"` and `\`
    /// escaped, by name or as `\xXX`, `\uXXXX`, `\UXXXXXXXX`.
    fn double_quoted(&mut self, value: &str) {
        const ESCAPED: &str = "\0\u{7}\u{8}\t\n\u{b}\u{c}\r\u{1b}\"\\\u{85}\u{2028}\u{2029}";
        const NAMES: &str = "0abtnvfre\"\\NLP";
        self.indicator("\"", true, false, false);
        for c in value.chars() {
            // IS_BOM needs no test: U+FEFF is not printable.
            if is_printable(c) && !is_break(c) && c != '"' && c != '\\' {
                self.out.push(c);
                continue;
            }
            self.out.push('\\');
            let _ = match (ESCAPED.chars().position(|e| e == c), u32::from(c)) {
                (Some(i), _) => write!(self.out, "{}", &NAMES[i..=i]),
                (None, v @ 0..=0xFF) => write!(self.out, "x{v:02X}"),
                (None, v @ 0x100..=0xFFFF) => write!(self.out, "u{v:04X}"),
                (None, v) => write!(self.out, "U{v:08X}"),
            };
        }
        self.indicator("\"", false, false, false);
    }

    /// yaml_emitter_write_literal_scalar, with _write_block_scalar_hints: an indentation indicator if
    /// the text starts with a space or break; `-` if it does not end with a break, `+` with two.
    fn literal(&mut self, value: &str) {
        self.indicator("|", true, false, false);
        if value.starts_with(|c| c == ' ' || is_break(c)) {
            self.indicator("2", false, false, false);
        }
        let mut rev = value.chars().rev();
        let chomp = match (rev.next().filter(|&c| is_break(c)), rev.next()) {
            (None, _) => "-",
            (Some(_), Some(c)) if !is_break(c) => "",
            (Some(_), _) => "+",
        };
        self.indicator(chomp, false, false, false);
        self.out.push('\n');
        self.line_start = self.out.len();
        (self.indention, self.whitespace) = (true, true);
        self.lines(value, false);
    }
}

/// A float as serde_yaml writes it: `.inf`, `-.inf`, `.nan`, else ryu's shortest digits that read
/// back (its `format_finite`: `1.0`, `1e16`, `1e-7`).
fn float<F: ryu::Float>(ser: &mut Serializer, v: F, nan: bool, infinite: Option<bool>) -> Result {
    match (nan, infinite) {
        (true, _) => ser.plain(".nan"),
        (false, Some(positive)) => ser.plain(if positive { ".inf" } else { "-.inf" }),
        (false, None) => ser.plain(ryu::Buffer::new().format_finite(v)),
    }
}

/// serde_yaml's `check_for_tag`: the text is displayed as the piece `!` and exactly one more.
struct TagCheck(usize);

impl fmt::Write for TagCheck {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !s.is_empty() {
            self.0 = [if s == "!" { 1 } else { 3 }, 2, 3, 3][self.0];
        }
        Ok(())
    }
}

/// The plain scalars' methods, which all forward to `Serializer::plain`.
macro_rules! plain {
    ($($name:ident: $t:ty),*) => {$(fn $name(self, v: $t) -> Result { self.plain(v) })*};
}

impl ser::Serializer for &mut Serializer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    plain!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32);
    plain!(serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16);
    plain!(serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);

    fn serialize_f32(self, v: f32) -> Result {
        float(self, v, v.is_nan(), v.is_infinite().then_some(v > 0.0))
    }

    fn serialize_f64(self, v: f64) -> Result {
        float(self, v, v.is_nan(), v.is_infinite().then_some(v > 0.0))
    }

    fn serialize_char(self, v: char) -> Result {
        self.scalar(v.encode_utf8(&mut [0; 4]), Some(Style::Single))
    }

    fn serialize_str(self, v: &str) -> Result {
        self.scalar(v, None)
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result {
        Err(Error::Bytes)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result {
        v.serialize(self)
    }

    fn serialize_none(self) -> Result {
        self.plain("null")
    }

    fn serialize_unit(self) -> Result {
        self.plain("null")
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.plain("null")
    }

    fn serialize_unit_variant(self, _name: &'static str, _i: u32, variant: &'static str) -> Result {
        self.scalar(variant, None)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, v: &T) -> Result {
        v.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _i: u32,
        variant: &'static str,
        _v: &T,
    ) -> Result {
        Err(Error::TaggedVariant(name, variant))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self> {
        self.start(Frame::Seq)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self> {
        self.start(Frame::Seq)
    }

    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self> {
        self.start(Frame::Seq)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Error::TaggedVariant(name, variant))
    }

    /// serde_yaml holds back the start of a map announced with one entry, to look for a tag in
    /// its key; a second such map in that key makes it lose the first.
    fn serialize_map(self, len: Option<usize>) -> Result<Self> {
        if len == Some(1) && self.tag_check {
            return Err(Error::OneEntryMapKey);
        }
        let ser = self.start(Frame::Key)?;
        ser.tag_check = len == Some(1);
        Ok(ser)
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self> {
        self.start(Frame::Key)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Error::TaggedVariant(name, variant))
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result {
        let mut check = TagCheck(0);
        if self.tag_check && write!(check, "{value}").is_ok() && check.0 == 2 {
            return Err(Error::TaggedKey(value.to_string()));
        }
        self.scalar(&value.to_string(), None)
    }
}

/// The collections' `Serialize*`: `Trait { method<generics>(args) { body } }`.
macro_rules! collections {
    ($($trait:ident {
        $($name:ident<$($t:ident),*>(&mut $s:ident, $($arg:ident: $ty:ty),*) $body:block)*
    })*) => {$(
        impl ser::$trait for &mut Serializer {
            type Ok = ();
            type Error = Error;
            $(fn $name<$($t: Serialize + ?Sized),*>(&mut $s, $($arg: $ty),*) -> Result $body)*
            fn end(self) -> Result {
                Serializer::end(self)
            }
        }
    )*};
}

collections! {
    SerializeSeq { serialize_element<T>(&mut self, v: &T) { v.serialize(&mut **self) } }
    SerializeTuple { serialize_element<T>(&mut self, v: &T) { v.serialize(&mut **self) } }
    SerializeTupleStruct { serialize_field<T>(&mut self, v: &T) { v.serialize(&mut **self) } }
    SerializeStruct {
        serialize_field<T>(&mut self, key: &'static str, v: &T) {
            self.scalar(key, None)?;
            v.serialize(&mut **self)
        }
    }
    SerializeMap {
        // serde_yaml looks for a tag only in a key given with its value (`serialize_entry`).
        serialize_key<T>(&mut self, key: &T) { self.tag_check = false; key.serialize(&mut **self) }
        serialize_value<T>(&mut self, v: &T) { v.serialize(&mut **self) }
        serialize_entry<K, V>(&mut self, k: &K, v: &V) { k.serialize(&mut **self)?; v.serialize(&mut **self) }
    }
}

#[cfg(test)]
mod tests;
