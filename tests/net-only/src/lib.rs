//! An actor written in a crate that depends on `actors-net` alone, as a distributed
//! application does: `#[actor]` finds the runtime through `actors_net`.

use actors_net::prelude::*;

/// A greeter whose messages cross the wire.
#[actor]
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Greeter {
    /// How it greets.
    pub greeting: String,
}

#[actor]
impl Greeter {
    /// A greeting for `name`.
    #[handle]
    fn greet(&self, name: String) -> String {
        format!("{}, {name}", self.greeting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actor_of_a_crate_that_depends_only_on_actors_net_works_across_nodes() {
        actors_net::actors::rt::block_on(async {
            let a = Node::builder("a@127.0.0.1:0")
                .cookie("c")
                .start()
                .await
                .unwrap();
            let b = Node::builder("b@127.0.0.1:0")
                .cookie("c")
                .start()
                .await
                .unwrap();
            a.connect(b.name()).await.unwrap();
            b.register(
                "greeter",
                b.spawn(Greeter {
                    greeting: "hello".into(),
                }),
            )
            .unwrap();
            let remote: Pid<Greeter> = a.whereis_on("greeter", b.name()).await.unwrap();
            assert_eq!(
                remote.greet("there".into()).await,
                Ok("hello, there".to_string())
            );
        });
    }
}
