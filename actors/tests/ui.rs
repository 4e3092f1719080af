//! Compile-time behaviour of `#[actor]` and `#[handle]`: what compiles, and the errors that
//! point at the user's code when something does not.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
