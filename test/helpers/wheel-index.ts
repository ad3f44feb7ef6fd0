// A package index on 127.0.0.1 for the engine set-up tests: PEP 691 JSON for torch, PEP 503 HTML
// for the other projects, byte ranges (resume), and faults on demand (a connection cut halfway,
// a wrong sha256). Wheels are zips written by the project's Python (zipfile, stored).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, join } from "node:path";

const root = join(import.meta.dirname, "../..");
const python = join(root, ".venv/bin/python");

/** Writes a wheel: `files` maps an archive name to a file on disk, `text` to its contents. */
export function writeWheel(path: string, files: Record<string, string>, text: Record<string, string> = {}): string {
  const spec = JSON.stringify({ path, files, text });
  execFileSync(
    python,
    [
      "-c",
      [
        "import json, sys, zipfile",
        "s = json.loads(sys.argv[1])",
        "with zipfile.ZipFile(s['path'], 'w', zipfile.ZIP_STORED) as z:",
        "    for name, src in s['files'].items(): z.write(src, name)",
        "    for name, body in s['text'].items(): z.writestr(name, body)",
      ].join("\n"),
      spec,
    ],
    { stdio: "pipe" },
  );
  return path;
}

export interface FixtureIndex {
  url: string;
  /** Requests seen, as "METHOD path range". */
  log: string[];
  /** Cut the next download of `filename` after `bytes` bytes. */
  cutNext(filename: string, bytes: number): void;
  /** Publish a wrong sha256 for `filename`. */
  corruptHash(filename: string): void;
  /** Send downloads in 64 KiB pieces `delayMs` apart (a progress bar then has time to show). */
  throttle(delayMs: number): void;
  close(): Promise<void>;
}

/** Serves `wheels` (paths) under /simple/<project>/ and /files/<filename>. */
export async function serveIndex(wheels: string[]): Promise<FixtureIndex> {
  const byName = new Map(wheels.map((w) => [basename(w), w]));
  const hashes = new Map(wheels.map((w) => [basename(w), createHash("sha256").update(readFileSync(w)).digest("hex")]));
  const cuts = new Map<string, number>();
  let delay = 0;
  const log: string[] = [];
  const project = (filename: string) => (filename.split("-")[0] as string).toLowerCase().replace(/[-_.]+/g, "-");
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    log.push(`${req.method} ${path} ${req.headers.range ?? ""}`.trim());
    const simple = path.match(/^\/simple\/([^/]+)\/$/);
    if (simple) {
      const files = [...byName.keys()].filter((f) => project(f) === simple[1]);
      if (files.length === 0) {
        res.writeHead(404).end();
        return;
      }
      if (simple[1] === "torch") {
        res.writeHead(200, { "content-type": "application/vnd.pypi.simple.v1+json" });
        res.end(
          JSON.stringify({
            meta: { "api-version": "1.0" },
            name: "torch",
            files: files.map((f) => ({ filename: f, url: `../../files/${f}`, hashes: { sha256: hashes.get(f) } })),
          }),
        );
      } else {
        res.writeHead(200, { "content-type": "text/html" });
        res.end(files.map((f) => `<a href="/files/${f}#sha256=${hashes.get(f)}">${f}</a><br/>`).join("\n"));
      }
      return;
    }
    const file = path.match(/^\/files\/([^/]+)$/)?.[1];
    const wheel = file ? byName.get(file) : undefined;
    if (!file || !wheel) {
      res.writeHead(404).end();
      return;
    }
    const size = statSync(wheel).size;
    const range = req.headers.range?.match(/^bytes=(\d+)-$/);
    const start = range ? Number(range[1]) : 0;
    if (start >= size && range) {
      res.writeHead(416, { "content-range": `bytes */${size}` }).end();
      return;
    }
    const body = readFileSync(wheel).subarray(start);
    res.writeHead(range ? 206 : 200, {
      "content-length": String(body.length),
      "accept-ranges": "bytes",
      ...(range ? { "content-range": `bytes ${start}-${size - 1}/${size}` } : {}),
    });
    const cut = cuts.get(file);
    if (cut !== undefined) {
      cuts.delete(file);
      res.write(body.subarray(0, cut), () => res.destroy());
      return;
    }
    if (delay > 0) {
      const piece = 64 * 1024;
      const send = (at: number) => {
        if (at >= body.length) return res.end();
        res.write(body.subarray(at, at + piece));
        setTimeout(() => send(at + piece), delay);
      };
      send(0);
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/simple`,
    log,
    cutNext: (filename, bytes) => cuts.set(filename, bytes),
    corruptHash: (filename) => hashes.set(filename, "0".repeat(64)),
    throttle: (ms) => {
      delay = ms;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const METADATA = (name: string, version: string, requires: string[]) =>
  [
    "Metadata-Version: 2.1",
    `Name: ${name}`,
    `Version: ${version}`,
    ...requires.map((r) => `Requires-Dist: ${r}`),
    "",
  ].join("\n");

/**
 * A CPU torch wheel made from the project venv's real libtorch: torch/lib with libc10,
 * libtorch_cpu, libgomp and a libtorch.so that no longer needs libtorch_cuda (patchelf), as in
 * PyTorch's CPU build. The venv's libtorch_cpu comes from a CUDA build and needs libcudart and
 * libcupti, so the wheel pins them the way PyPI's CUDA build does: through the cuda-toolkit
 * meta-package's extras, each an nvidia-* wheel with nvidia/cu13/lib (found through
 * libtorch_cpu's RPATH). Every wheel is returned.
 */
export function realCpuWheels(dir: string, torchLib: string): string[] {
  const stage = join(dir, "stage");
  mkdirSync(stage, { recursive: true });
  const libtorch = join(stage, "libtorch.so");
  copyFileSync(join(torchLib, "libtorch.so"), libtorch);
  execFileSync("patchelf", ["--remove-needed", "libtorch_cuda.so", libtorch]);
  const torch = writeWheel(
    join(dir, "torch-2.11.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"),
    {
      "torch/lib/libc10.so": join(torchLib, "libc10.so"),
      "torch/lib/libtorch_cpu.so": join(torchLib, "libtorch_cpu.so"),
      "torch/lib/libgomp.so.1": join(torchLib, "libgomp.so.1"),
      "torch/lib/libtorch.so": libtorch,
    },
    {
      "torch/__init__.py": "# the Python package is not what the engine uses\n",
      "torch-2.11.0+cpu.dist-info/METADATA": METADATA("torch", "2.11.0+cpu", [
        'cuda-toolkit[cudart,cupti]==13.0.2; platform_system == "Linux"',
        'triton==3.6.0; platform_system == "Linux"',
        "filelock",
        'optree>=0.13.0; extra == "optree"',
      ]),
    },
  );
  // The meta-package as NVIDIA publishes it: one extra per library; only cudart and cupti asked for.
  const toolkit = writeWheel(
    join(dir, "cuda_toolkit-13.0.2-py2.py3-none-any.whl"),
    {},
    {
      "cuda_toolkit-13.0.2.dist-info/METADATA": METADATA("cuda-toolkit", "13.0.2", [
        "nvidia-cublas==13.1.0.3.*; (sys_platform == 'linux' or sys_platform == 'win32') and extra == 'cublas'",
        "nvidia-cuda-cupti==13.0.85.*; (sys_platform == 'linux' or sys_platform == 'win32') and extra == 'cupti'",
        "nvidia-cuda-runtime==13.0.96.*; (sys_platform == 'linux' or sys_platform == 'win32') and extra == 'cudart'",
        "nvidia-cufile==1.15.1.6.*; (sys_platform == 'linux') and extra == 'cufile'",
      ]),
    },
  );
  const cu13 = join(torchLib, "../../nvidia/cu13/lib");
  const runtime = writeWheel(join(dir, "nvidia_cuda_runtime-13.0.96-py3-none-manylinux_2_27_x86_64.whl"), {
    "nvidia/cu13/lib/libcudart.so.13": join(cu13, "libcudart.so.13"),
  });
  const cupti = writeWheel(join(dir, "nvidia_cuda_cupti-13.0.85-py3-none-manylinux_2_27_x86_64.whl"), {
    "nvidia/cu13/lib/libcupti.so.13": join(cu13, "libcupti.so.13"),
  });
  return [torch, toolkit, runtime, cupti];
}

/** A small torch wheel whose libraries are placeholders: for the download, resume and hash paths. */
export function placeholderWheel(dir: string, name = "torch-2.11.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl"): string {
  mkdirSync(dir, { recursive: true });
  const lib = join(dir, "placeholder.so");
  writeFileSync(lib, Buffer.alloc(256 * 1024, 7));
  return writeWheel(
    join(dir, name),
    { "torch/lib/libc10.so": lib, "torch/lib/libtorch_cpu.so": lib, "torch/lib/libtorch.so": lib },
    { "torch-2.11.0+cpu.dist-info/METADATA": METADATA("torch", "2.11.0+cpu", []) },
  );
}
