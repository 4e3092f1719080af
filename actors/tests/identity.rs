//! An actor type's wire identity covers the handlers compiled in: two builds that differ in
//! a `cfg`'d handler are told apart, and a handler compiled out changes nothing.

use actors::prelude::*;

mod plain {
    use actors::prelude::*;

    #[actor(name = "identity::Flags")]
    pub struct Flags;

    #[actor]
    impl Flags {
        #[handle]
        fn get(&self) -> u8 {
            1
        }
    }
}

mod compiled_out {
    use actors::prelude::*;

    #[actor(name = "identity::Flags")]
    pub struct Flags;

    #[actor]
    impl Flags {
        #[handle]
        fn get(&self) -> u8 {
            1
        }

        #[cfg(not(test))]
        #[handle]
        fn dump(&self) -> String {
            String::new()
        }
    }
}

mod compiled_in {
    use actors::prelude::*;

    #[actor(name = "identity::Flags")]
    pub struct Flags;

    #[actor]
    impl Flags {
        #[handle]
        fn get(&self) -> u8 {
            1
        }

        #[cfg(test)]
        #[handle]
        fn dump(&self) -> String {
            String::new()
        }
    }
}

#[test]
fn a_handler_compiled_out_leaves_the_identity_as_without_it() {
    assert_eq!(
        <plain::Flags as Actor>::identity(),
        <compiled_out::Flags as Actor>::identity()
    );
}

#[test]
fn a_handler_compiled_in_changes_the_identity() {
    assert_ne!(
        <plain::Flags as Actor>::identity().hash,
        <compiled_in::Flags as Actor>::identity().hash
    );
}
