//! The test harnesses switched off in the manifests (`test = false`, `doctest = false`) hold no
//! test that would then never run.

#![allow(clippy::unwrap_used)]

use xtask::harness::{first_doc_test, first_test, switched_off_with_tests};

#[test]
fn no_switched_off_harness_hides_a_test() {
    let found = switched_off_with_tests().unwrap();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn tests_and_doc_tests_are_recognised() {
    assert_eq!(first_test("fn main() {}\n"), None);
    assert_eq!(first_test("fn a() {}\n\n    #[test]\n    fn b() {}\n"), Some(3));
    assert_eq!(
        first_test("#[tokio::test(flavor = \"current_thread\")]\nasync fn t() {}"),
        Some(1)
    );
    assert_eq!(first_test("#[cfg(test)]\nmod tests;"), Some(1));

    // Text, shell and JSON blocks are not compiled; their closing fence opens nothing.
    let prose = "/// ```text\n/// a -> b\n/// ```\n//! ```sh\n//! cargo xtask synth\n//! ```\nfn f() {}\n";
    assert_eq!(first_doc_test(prose), None);
    assert_eq!(first_doc_test("/// ```\n/// let x = 1;\n/// ```\n"), Some(1));
    assert_eq!(
        first_doc_test("/// Example:\n/// ```rust,no_run\n/// main();\n/// ```\n"),
        Some(2)
    );
    assert_eq!(
        first_doc_test("/// ```json\n/// {}\n/// ```\n/// ```should_panic\n/// panic!()\n/// ```\n"),
        Some(4)
    );
    // A fence in an ordinary comment is no doc test.
    assert_eq!(first_doc_test("// ```\n// code\n// ```\n"), None);
}
