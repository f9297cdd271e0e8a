//! Compiles Veil's own .proto files with protox (pure Rust), so no system
//! `protoc` is needed. Servers are generated only so tests can run a fake core;
//! the daemon's client is hand-rolled because the real gRPC paths depend on the
//! core's flavor, which generated clients cannot choose at run time.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const FILES: [&str; 3] = [
        "proto/veil/core/common.proto",
        "proto/veil/core/handler.proto",
        "proto/veil/core/stats.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(FILES, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(false)
        .compile_fds(fds)?;
    Ok(())
}
