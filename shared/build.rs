//! Generates the protobuf types (prost) and their proto3 JSON mapping (pbjson) from `proto/`,
//! with the pure-Rust `protox` compiler so no system `protoc` is needed.

use prost::Message;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "common.proto",
        "catalog_events.proto",
        "checkout_events.proto",
        "api.proto",
        "live.proto",
        "admin.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed=../proto/{f}");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(files, ["../proto"])?;
    let descriptors = fds.encode_to_vec();
    // Kept whole (comments included) for the API's OpenAPI document, generated from them.
    std::fs::write(out.join("descriptors.bin"), &descriptors)?;
    prost_build::Config::new().compile_fds(fds)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptors)?
        .out_dir(&out)
        .build(&[".shop"])?;
    Ok(())
}
