//! Examples live beside this crate: run `cargo run -p license-examples --example embed`.
