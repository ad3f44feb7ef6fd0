// What the engine was built against: the torch release its libtorch must come from.
export const TORCH_VERSION = "2.11.0";
/** Any 2.11.x: patch releases keep the ABI. */
export const TORCH_SERIES = "2.11.";
/** The libraries the addon links, which a torch/lib folder must hold. */
export const LIBTORCH_FILES = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];
/** Where wheels come from by default: PyTorch's CPU index, and PyPI (whose torch is a CUDA build). */
export const DEFAULT_INDEX = {
  cpu: "https://download.pytorch.org/whl/cpu",
  cuda: "https://pypi.org/simple",
} as const;
