//! A deterministic zip with one file in it: what Lambda takes as a function's code.
//!
//! The bytes depend on the file's name, content and mode only: the entry's time is fixed at
//! 1980-01-01 00:00 (the earliest a zip can say), there is no extra field (no Unix timestamps, no
//! uid/gid), no comment, and the content is deflated at a fixed level by a pinned pure-Rust
//! compressor (`miniz_oxide`, through `flate2`, locked by `Cargo.lock`). So the same binary gives
//! the same zip, and the same SHA-256, on every machine.
//!
//! Layout (APPNOTE 6.3.x): local file header, deflated data, central directory header,
//! end of central directory. "Version made by" is Unix, so that unzip and Lambda read the
//! external attributes as a Unix mode (`0o100755`: a regular, executable file).

use std::io::Write;

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::write::DeflateEncoder;

/// The deflate level: the best compression `miniz_oxide` has. Changing it changes every hash.
pub const LEVEL: u32 = 9;

/// DOS date of 1980-01-01 (`(year - 1980) << 9 | month << 5 | day`).
const DOS_DATE_1980_01_01: u16 = (1 << 5) | 1;
/// DOS time of 00:00:00.
const DOS_TIME_MIDNIGHT: u16 = 0;
/// Version 2.0: deflate, no zip64.
const VERSION_NEEDED: u16 = 20;
/// Made by Unix (3), spec version 2.0: the external attributes hold a Unix mode.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
const METHOD_DEFLATE: u16 = 8;
/// `S_IFREG`: a regular file.
const S_IFREG: u32 = 0o100_000;

/// A zip of one file, `name`, holding `data`, with Unix permissions `mode` (e.g. `0o755`).
///
/// Fails if the name is empty, not a plain relative path, or if anything is 4 GiB or more
/// (which would need zip64, far above Lambda's 250 MB limit anyway).
pub fn single_file(name: &str, data: &[u8], mode: u32) -> Result<Vec<u8>> {
    if name.is_empty() || name.starts_with('/') || name.contains('\\') || name.split('/').any(|p| p == "..") {
        bail!("zip entry name {name:?} must be a plain relative path");
    }
    if mode & !0o7777 != 0 {
        bail!("zip entry mode {mode:o} must be permission bits only (e.g. 0o755)");
    }
    let name_len = u16::try_from(name.len()).context("zip entry name is too long")?;
    let size = u32::try_from(data.len()).with_context(|| {
        format!(
            "{name} is {} bytes: too large for a zip without zip64",
            data.len()
        )
    })?;
    let crc = crc32fast::hash(data);

    let mut deflater = DeflateEncoder::new(Vec::with_capacity(data.len() / 2), Compression::new(LEVEL));
    deflater.write_all(data).context("cannot compress")?;
    let compressed = deflater.finish().context("cannot compress")?;
    let compressed_size = u32::try_from(compressed.len()).context("compressed data too large for a zip")?;

    let mut out = Vec::with_capacity(compressed.len() + 2 * name.len() + 128);
    // Local file header.
    put32(&mut out, 0x0403_4b50);
    put16(&mut out, VERSION_NEEDED);
    put16(&mut out, 0); // flags: sizes and CRC are in this header, no data descriptor
    put16(&mut out, METHOD_DEFLATE);
    put16(&mut out, DOS_TIME_MIDNIGHT);
    put16(&mut out, DOS_DATE_1980_01_01);
    put32(&mut out, crc);
    put32(&mut out, compressed_size);
    put32(&mut out, size);
    put16(&mut out, name_len);
    put16(&mut out, 0); // extra field length
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&compressed);

    // Central directory: one header.
    let central_start = u32::try_from(out.len()).context("zip too large")?;
    put32(&mut out, 0x0201_4b50);
    put16(&mut out, VERSION_MADE_BY);
    put16(&mut out, VERSION_NEEDED);
    put16(&mut out, 0);
    put16(&mut out, METHOD_DEFLATE);
    put16(&mut out, DOS_TIME_MIDNIGHT);
    put16(&mut out, DOS_DATE_1980_01_01);
    put32(&mut out, crc);
    put32(&mut out, compressed_size);
    put32(&mut out, size);
    put16(&mut out, name_len);
    put16(&mut out, 0); // extra field length
    put16(&mut out, 0); // comment length
    put16(&mut out, 0); // disk number start
    put16(&mut out, 0); // internal attributes: binary
    put32(&mut out, (S_IFREG | mode) << 16); // external attributes: the Unix mode
    put32(&mut out, 0); // offset of the local header
    out.extend_from_slice(name.as_bytes());
    let central_size = u32::try_from(out.len()).context("zip too large")? - central_start;

    // End of central directory.
    put32(&mut out, 0x0605_4b50);
    put16(&mut out, 0); // this disk
    put16(&mut out, 0); // disk with the central directory
    put16(&mut out, 1); // entries on this disk
    put16(&mut out, 1); // entries in all
    put32(&mut out, central_size);
    put32(&mut out, central_start);
    put16(&mut out, 0); // comment length
    Ok(out)
}

/// One entry read back from a zip written by [`single_file`] (for checks and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// The full Unix mode from the external attributes (e.g. `0o100755`).
    pub unix_mode: u32,
    /// DOS (date, time).
    pub dos_date_time: (u16, u16),
    pub data: Vec<u8>,
}

/// Reads the single entry of a zip made by [`single_file`], checking its CRC-32 and sizes.
pub fn read_single_file(zip: &[u8]) -> Result<Entry> {
    let eocd = zip.len().checked_sub(22).context("not a zip: too short")?;
    if get32(zip, eocd)? != 0x0605_4b50 {
        bail!("not a zip of this kind: no end of central directory record at the end (a comment?)");
    }
    if get16(zip, eocd + 10)? != 1 {
        bail!("the zip has {} entries, expected 1", get16(zip, eocd + 10)?);
    }
    let cd = get32(zip, eocd + 16)? as usize;
    if get32(zip, cd)? != 0x0201_4b50 {
        bail!("bad central directory header");
    }
    let method = get16(zip, cd + 10)?;
    let time = get16(zip, cd + 12)?;
    let date = get16(zip, cd + 14)?;
    let crc = get32(zip, cd + 16)?;
    let csize = get32(zip, cd + 20)? as usize;
    let usize_ = get32(zip, cd + 24)? as usize;
    let name_len = get16(zip, cd + 28)? as usize;
    let external = get32(zip, cd + 38)?;
    let local = get32(zip, cd + 42)? as usize;
    let name = zip.get(cd + 46..cd + 46 + name_len).context("truncated name")?;
    let name = String::from_utf8(name.to_vec()).context("entry name is not UTF-8")?;
    if get32(zip, local)? != 0x0403_4b50 {
        bail!("bad local file header");
    }
    let data_start = local + 30 + get16(zip, local + 26)? as usize + get16(zip, local + 28)? as usize;
    let raw = zip
        .get(data_start..data_start + csize)
        .context("truncated data")?;
    let data = match method {
        0 => raw.to_vec(),
        8 => {
            let mut inflater = flate2::write::DeflateDecoder::new(Vec::with_capacity(usize_));
            inflater.write_all(raw).context("cannot inflate")?;
            inflater.finish().context("cannot inflate")?
        }
        other => bail!("unsupported compression method {other}"),
    };
    if data.len() != usize_ {
        bail!("entry is {} bytes, header says {usize_}", data.len());
    }
    if crc32fast::hash(&data) != crc {
        bail!("CRC-32 mismatch");
    }
    Ok(Entry {
        name,
        unix_mode: external >> 16,
        dos_date_time: (date, time),
        data,
    })
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn get16(b: &[u8], at: usize) -> Result<u16> {
    let s = b.get(at..at + 2).context("truncated zip")?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn get32(b: &[u8], at: usize) -> Result<u32> {
    let s = b.get(at..at + 4).context("truncated zip")?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_input_same_bytes_and_it_reads_back() -> Result<()> {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let a = single_file("bootstrap", &data, 0o755)?;
        let b = single_file("bootstrap", &data, 0o755)?;
        assert_eq!(a, b);
        assert!(a.len() < data.len() / 10, "it is deflated");
        let entry = read_single_file(&a)?;
        assert_eq!(entry.name, "bootstrap");
        assert_eq!(entry.unix_mode, 0o100_755);
        assert_eq!(entry.dos_date_time, (0x21, 0));
        assert_eq!(entry.data, data);
        Ok(())
    }

    #[test]
    fn empty_file_and_bad_names() -> Result<()> {
        let z = single_file("bootstrap", b"", 0o644)?;
        assert_eq!(read_single_file(&z)?.data, b"");
        assert!(single_file("../x", b"", 0o755).is_err());
        assert!(single_file("/x", b"", 0o755).is_err());
        assert!(single_file("x", b"", 0o100_755).is_err());
        Ok(())
    }
}
