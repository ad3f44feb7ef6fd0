// The addon needs the same libtorch link flags as the engine (see engine/build.rs): link args
// are not inherited from dependencies, so they are repeated here from the engine's metadata.
fn main() {
    napi_build::setup();
    let lib = std::env::var("DEP_FTUNE_ENGINE_LIBTORCH_LIB")
        .expect("ftune-engine did not report libtorch's lib dir");
    println!("cargo:rustc-link-arg=-Wl,-rpath={lib}");
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-ltorch");
}
