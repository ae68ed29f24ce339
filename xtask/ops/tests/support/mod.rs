//! What the tests against moto share: valid, deterministic Lambda zips.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use xtask_ops::artifact::Artifact;
use xtask_ops::deploy;

/// A zip with one stored (uncompressed) file `bootstrap`, mode 0755, dated 1980-01-01: small,
/// deterministic, and a valid Lambda code package (moto reads it; it runs nothing).
pub fn stored_zip(content: &[u8]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    let name = b"bootstrap";
    let crc = crc32(content);
    let size = u32::try_from(content.len()).unwrap();
    let name_len = u16::try_from(name.len()).unwrap();
    let date: u16 = (1 << 5) | 1;
    let mut z = Vec::new();
    let mut local = Vec::new();
    local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    for v in [20u16, 0, 0, 0, date] {
        local.extend_from_slice(&v.to_le_bytes());
    }
    for v in [crc, size, size] {
        local.extend_from_slice(&v.to_le_bytes());
    }
    local.extend_from_slice(&name_len.to_le_bytes());
    local.extend_from_slice(&0u16.to_le_bytes());
    local.extend_from_slice(name);
    z.extend_from_slice(&local);
    z.extend_from_slice(content);
    let cd_offset = u32::try_from(z.len()).unwrap();
    let mut cd = Vec::new();
    cd.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    for v in [(3u16 << 8) | 20, 20, 0, 0, 0, date] {
        cd.extend_from_slice(&v.to_le_bytes());
    }
    for v in [crc, size, size] {
        cd.extend_from_slice(&v.to_le_bytes());
    }
    for v in [name_len, 0, 0, 0, 0] {
        cd.extend_from_slice(&v.to_le_bytes());
    }
    cd.extend_from_slice(&(0o100_755u32 << 16).to_le_bytes());
    cd.extend_from_slice(&0u32.to_le_bytes());
    cd.extend_from_slice(name);
    z.extend_from_slice(&cd);
    z.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, 1, 1] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&u32::try_from(cd.len()).unwrap().to_le_bytes());
    z.extend_from_slice(&cd_offset.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

/// Writes `DIR/<function>/bootstrap.zip` for every function (content: its name and a version)
/// and returns them as artifacts, the way `--artifacts DIR` reads them.
pub fn write_artifacts(dir: &Path, versions: &BTreeMap<&str, u32>) -> Vec<Artifact> {
    for f in infra_model::system::FUNCTIONS.iter() {
        let v = versions.get(f.name).copied().unwrap_or(1);
        let d = dir.join(f.name);
        std::fs::create_dir_all(&d).unwrap();
        let body = format!("#!/bin/sh\necho {} v{v}\n", f.name);
        std::fs::write(d.join("bootstrap.zip"), stored_zip(body.as_bytes())).unwrap();
    }
    deploy::artifacts_from_dir(dir).unwrap()
}
