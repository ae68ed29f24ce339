//! The project's moto launcher against moto itself: its serializer fast path answers byte for
//! byte as moto's generic serializer does, and its TransactWriteItems is all or nothing (the
//! checks are in `src/moto_server_check.py`, run by the moto tool's Python).

use std::path::Path;
use std::process::Command;

#[test]
fn the_launcher_answers_as_moto_does_and_transactions_are_all_or_nothing() {
    xtask_tools::ensure(xtask_tools::MOTO).expect("moto could not be installed into the tools folder");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let out = Command::new(xtask_tools::bin_dir().join("python3"))
        .arg(src.join("moto_server_check.py"))
        .arg(src.join("moto_server.py"))
        .output()
        .expect("the tools' python3 did not run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("moto launcher: 0 failure(s)"), "{text}");
}
