// Generated from native/engine/src by ts-rs (native/engine/src/bindings.rs): do not edit.
// `FTUNE_WRITE_BINDINGS=1 node scripts/test.mjs rust` rewrites it after a change to the Rust types.

/**
 * The libtorch a process loaded, its devices and threads; camelCase, as the addon's
 * `runtimeInfo()` and `fold_job --info` (on a Ray node) both give it.
 */
export type RuntimeInfo = {
/**
 * Version of the libtorch actually loaded (e.g. "2.11.0+cu130").
 */
torchVersion: string,
/**
 * Directory the loaded libtorch comes from.
 */
torchLibDir: string, cudaAvailable: boolean, cudaDeviceCount: number,
/**
 * Intra-op threads libtorch uses on CPU.
 */
threads: number,
/**
 * The CPU has bf16 instructions: `precision: bf16` runs on it.
 */
cpuBf16: boolean, };
