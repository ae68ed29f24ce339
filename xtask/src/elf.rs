//! What a Linux executable needs from the machine that runs it, read from its ELF headers: the
//! CPU, the dynamic loader, the shared libraries, and the glibc symbol versions (the
//! `.gnu.version_r` section, what `objdump -T` shows as `GLIBC_2.17`).
//!
//! [`check_lambda`] uses it to refuse an artifact that Lambda's `provided.al2023` runtime
//! (glibc 2.34) could not start.

use std::fmt;

use anyhow::{Context, Result, bail};

/// The CPU an ELF file is for (`e_machine`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    Aarch64,
    X86_64,
    Other(u16),
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Machine::Aarch64 => f.write_str("ARM aarch64"),
            Machine::X86_64 => f.write_str("x86-64"),
            Machine::Other(m) => write!(f, "e_machine {m}"),
        }
    }
}

/// A glibc symbol version, `GLIBC_2.17` as `(2, 17, 0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion(pub u32, pub u32, pub u32);

impl GlibcVersion {
    /// Parses `GLIBC_2.17` or `GLIBC_2.2.5`; `None` for anything else (`GLIBC_PRIVATE`, `GCC_3.0`).
    pub fn parse(version_name: &str) -> Option<GlibcVersion> {
        let rest = version_name.strip_prefix("GLIBC_")?;
        let mut parts = rest.split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = match parts.next() {
            Some(p) => p?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(GlibcVersion(major, minor, patch))
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.2 == 0 {
            write!(f, "{}.{}", self.0, self.1)
        } else {
            write!(f, "{}.{}.{}", self.0, self.1, self.2)
        }
    }
}

/// glibc of Lambda's `provided.al2023` runtime (Amazon Linux 2023).
pub const AL2023_GLIBC: GlibcVersion = GlibcVersion(2, 34, 0);

/// The shared libraries `provided.al2023` has for a custom runtime: glibc's, and libgcc_s.
pub const AL2023_LIBRARIES: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libgcc_s.so.1",
    "ld-linux-aarch64.so.1",
    "ld-linux-x86-64.so.2",
];

/// What [`read`] found in an executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    pub machine: Machine,
    /// `ET_EXEC` (2) or `ET_DYN` (3, a PIE).
    pub file_type: u16,
    /// The dynamic loader (`PT_INTERP`), absent in a static executable.
    pub interpreter: Option<String>,
    /// `DT_NEEDED`: the shared libraries it loads.
    pub needed: Vec<String>,
    /// Every version it needs from a library, as `(library, version)`: `("libc.so.6", "GLIBC_2.17")`.
    pub version_needs: Vec<(String, String)>,
}

impl ElfInfo {
    /// No loader and no shared library: runs on any Linux kernel of its CPU.
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }

    /// The newest glibc version any of its symbols needs (`None` when static or glibc-free).
    pub fn max_glibc(&self) -> Option<GlibcVersion> {
        self.version_needs
            .iter()
            .filter_map(|(_, v)| GlibcVersion::parse(v))
            .max()
    }

    /// One line for a report: `ARM aarch64, dynamic, glibc >= 2.17` or `ARM aarch64, static`.
    pub fn summary(&self) -> String {
        match (self.is_static(), self.max_glibc()) {
            (true, _) => format!("{}, static", self.machine),
            (false, Some(v)) => format!("{}, dynamic, glibc >= {v}", self.machine),
            (false, None) => format!("{}, dynamic", self.machine),
        }
    }
}

const SHT_DYNAMIC: u32 = 6;
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;

/// Reads an ELF64 little-endian executable's needs.
pub fn read(bytes: &[u8]) -> Result<ElfInfo> {
    if bytes.get(0..4) != Some(b"\x7fELF") {
        bail!("not an ELF file");
    }
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        bail!("not a 64-bit little-endian ELF file");
    }
    let r = Reader(bytes);
    let file_type = r.u16(16)?;
    let machine = match r.u16(18)? {
        183 => Machine::Aarch64,
        62 => Machine::X86_64,
        other => Machine::Other(other),
    };
    let phoff = r.usize(32)?;
    let shoff = r.usize(40)?;
    let phentsize = usize::from(r.u16(54)?);
    let phnum = usize::from(r.u16(56)?);
    let shentsize = usize::from(r.u16(58)?);
    let shnum = usize::from(r.u16(60)?);

    let mut interpreter = None;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if r.u32(ph)? == PT_INTERP {
            let offset = r.usize(ph + 8)?;
            let size = r.usize(ph + 32)?;
            let raw = r.slice(offset, size)?;
            let raw = raw.split(|b| *b == 0).next().unwrap_or_default();
            interpreter = Some(String::from_utf8_lossy(raw).into_owned());
        }
    }

    struct Section {
        kind: u32,
        offset: usize,
        size: usize,
        link: usize,
        info: usize,
    }
    let mut sections = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let sh = shoff + i * shentsize;
        sections.push(Section {
            kind: r.u32(sh + 4)?,
            offset: r.usize(sh + 24)?,
            size: r.usize(sh + 32)?,
            link: r.u32(sh + 40)? as usize,
            info: r.u32(sh + 44)? as usize,
        });
    }
    let strtab = |index: usize| -> Result<&[u8]> {
        let s = sections
            .get(index)
            .context("a section links to a string table that does not exist")?;
        r.slice(s.offset, s.size)
    };

    let mut needed = Vec::new();
    let mut version_needs = Vec::new();
    for s in &sections {
        match s.kind {
            SHT_DYNAMIC => {
                let strings = strtab(s.link)?;
                for entry in (s.offset..s.offset + s.size).step_by(16) {
                    let tag = r.u64(entry)?;
                    if tag == DT_NULL {
                        break;
                    }
                    if tag == DT_NEEDED {
                        needed.push(cstr(strings, r.usize(entry + 8)?)?);
                    }
                }
            }
            SHT_GNU_VERNEED => {
                let strings = strtab(s.link)?;
                // `info` is the number of Verneed entries.
                let mut at = s.offset;
                for _ in 0..s.info {
                    let count = r.u16(at + 2)?;
                    let file = cstr(strings, r.u32(at + 4)? as usize)?;
                    let mut aux = at + r.u32(at + 8)? as usize;
                    for _ in 0..count {
                        let name = cstr(strings, r.u32(aux + 8)? as usize)?;
                        version_needs.push((file.clone(), name));
                        let next = r.u32(aux + 12)? as usize;
                        if next == 0 {
                            break;
                        }
                        aux += next;
                    }
                    let next = r.u32(at + 12)? as usize;
                    if next == 0 {
                        break;
                    }
                    at += next;
                }
            }
            _ => {}
        }
    }
    version_needs.sort();
    version_needs.dedup();
    Ok(ElfInfo {
        machine,
        file_type,
        interpreter,
        needed,
        version_needs,
    })
}

/// Fails, saying why, unless the executable is for `machine` and needs nothing Lambda's
/// `provided.al2023` lacks: glibc symbol versions up to `max_glibc` and only the libraries in
/// [`AL2023_LIBRARIES`] (or nothing, when static).
pub fn check_lambda(info: &ElfInfo, machine: Machine, max_glibc: GlibcVersion) -> Result<()> {
    if info.machine != machine {
        bail!("it is an ELF for {}, not {machine}", info.machine);
    }
    let foreign: Vec<&str> = info
        .needed
        .iter()
        .map(String::as_str)
        .filter(|lib| !AL2023_LIBRARIES.contains(lib))
        .collect();
    if !foreign.is_empty() {
        bail!(
            "it loads {}, which the provided.al2023 runtime does not have: link it statically",
            foreign.join(", ")
        );
    }
    let private: Vec<&str> = info
        .version_needs
        .iter()
        .filter(|(_, v)| v.starts_with("GLIBC_") && GlibcVersion::parse(v).is_none())
        .map(|(_, v)| v.as_str())
        .collect();
    if !private.is_empty() {
        bail!("it needs glibc-internal symbols ({})", private.join(", "));
    }
    if let Some(newest) = info.max_glibc()
        && newest > max_glibc
    {
        let too_new: Vec<String> = info
            .version_needs
            .iter()
            .filter(|(_, v)| GlibcVersion::parse(v).is_some_and(|g| g > max_glibc))
            .map(|(lib, v)| format!("{v} ({lib})"))
            .collect();
        bail!(
            "it needs glibc {newest}, newer than the runtime's {max_glibc}: {}. \
             It was linked against the build machine's glibc: build with `cargo xtask build`, \
             which links with zig against glibc 2.17",
            too_new.join(", ")
        );
    }
    Ok(())
}

/// A NUL-terminated string at `offset` of a string table.
fn cstr(table: &[u8], offset: usize) -> Result<String> {
    let rest = table.get(offset..).context("string offset outside its table")?;
    let end = rest
        .iter()
        .position(|b| *b == 0)
        .context("unterminated string in a string table")?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn slice(&self, at: usize, len: usize) -> Result<&[u8]> {
        let end = at.checked_add(len).context("ELF offset overflows")?;
        self.0
            .get(at..end)
            .with_context(|| format!("truncated ELF file: bytes {at}..{end} of {}", self.0.len()))
    }

    fn u16(&self, at: usize) -> Result<u16> {
        let s = self.slice(at, 2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }

    fn u32(&self, at: usize) -> Result<u32> {
        let s = self.slice(at, 4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn u64(&self, at: usize) -> Result<u64> {
        let s = self.slice(at, 8)?;
        let mut b = [0; 8];
        b.copy_from_slice(s);
        Ok(u64::from_le_bytes(b))
    }

    fn usize(&self, at: usize) -> Result<usize> {
        usize::try_from(self.u64(at)?).context("ELF offset does not fit in usize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_parse_and_order() {
        assert_eq!(GlibcVersion::parse("GLIBC_2.17"), Some(GlibcVersion(2, 17, 0)));
        assert_eq!(GlibcVersion::parse("GLIBC_2.2.5"), Some(GlibcVersion(2, 2, 5)));
        assert_eq!(GlibcVersion::parse("GLIBC_PRIVATE"), None);
        assert_eq!(GlibcVersion::parse("GCC_3.0"), None);
        assert!(GlibcVersion(2, 2, 5) < GlibcVersion(2, 17, 0));
        assert!(GlibcVersion(2, 35, 0) > AL2023_GLIBC);
        assert_eq!(GlibcVersion(2, 34, 0).to_string(), "2.34");
    }

    #[test]
    fn this_test_binary_reads() -> Result<()> {
        let exe = std::env::current_exe()?;
        let info = read(&std::fs::read(exe)?)?;
        if cfg!(all(
            target_arch = "x86_64",
            target_os = "linux",
            target_env = "gnu"
        )) {
            assert_eq!(info.machine, Machine::X86_64);
            assert!(info.needed.iter().any(|l| l == "libc.so.6"), "{info:?}");
            assert!(info.max_glibc().is_some(), "{info:?}");
            assert!(check_lambda(&info, Machine::Aarch64, AL2023_GLIBC).is_err());
            let err = check_lambda(&info, Machine::X86_64, GlibcVersion(2, 1, 0))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("newer than the runtime's 2.1"), "{err}");
        }
        Ok(())
    }

    #[test]
    fn garbage_is_refused() {
        assert!(read(b"#!/bin/sh\n").is_err());
        assert!(read(b"\x7fELF\x02\x01\x01").is_err());
    }
}
