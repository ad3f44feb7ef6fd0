// Link libtorch so that CUDA is real where a GPU exists, and find it without LD_LIBRARY_PATH.
//
// torch-sys asks for -ltorch_cuda, but rustc's default --as-needed drops it because nothing
// references it directly, and then Cuda::is_available() is silently false. Forcing -ltorch
// with --no-as-needed keeps libtorch (and through it libtorch_cuda) in DT_NEEDED. The rpath
// is a RUNPATH, so LD_LIBRARY_PATH can still point a build at another torch 2.11 install.
fn main() {
    let lib =
        std::env::var("DEP_TCH_LIBTORCH_LIB").expect("torch-sys did not report libtorch's lib dir");
    println!("cargo:rustc-link-arg=-Wl,-rpath={lib}");
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-ltorch");
    // Dependents (the addon) get the same dir through DEP_FTUNE_ENGINE_LIBTORCH_LIB.
    println!("cargo:libtorch_lib={lib}");

    // Small C++ shims for what tch does not bind: bf16 autocast, the foreach updates and
    // torch.save state dicts (pytorch_model.bin), a parallel dropout mask and a caching CPU
    // allocator.
    let include = std::path::Path::new(&lib).join("../include");
    println!("cargo:rerun-if-changed=cpp");
    let mut shims = cc::Build::new();
    shims
        .cpp(true)
        .file("cpp/autocast.cpp")
        .file("cpp/cpu_cache.cpp")
        .file("cpp/dropout.cpp")
        .file("cpp/foreach.cpp")
        .file("cpp/pickle.cpp")
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        // The SWA average's loop is ours: optimized (and vectorized) in debug builds too.
        .opt_level(3)
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .warnings(false);
    // libtorch's at::parallel_for is an inline `#pragma omp parallel` (AT_PARALLEL_OPENMP):
    // without -fopenmp the shims' parallel loops (SWA average, dropout mask) run on one thread.
    // They link the libgomp.so.1 that libtorch loads already, so there is one OpenMP runtime.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        shims.flag("-fopenmp");
        println!("cargo:rustc-link-lib=gomp");
    }
    shims.compile("ftune_shims");
}
