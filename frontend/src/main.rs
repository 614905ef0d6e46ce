//! Entry point of the browser app (built by Trunk for `wasm32-unknown-unknown`).

fn main() {
    frontend::start();
}
