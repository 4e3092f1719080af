//! `cargo run` in the workspace runs the tour, the same program as `cargo run --example tour`.

#[path = "../examples/tour.rs"]
mod tour;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tour::main()
}
