// The weight files transformers reads, read by the engine without Python: pytorch_model.bin
// (a torch.save zip of a state dict, through libtorch's own unpickler), and sharded
// checkpoints of either format (*.index.json); each predicts what transformers predicts from
// the same folder. A damaged or hostile file is one message, and the process lives on.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";

import { native } from "../../app/native/addon.ts";
import { venvPython } from "../../scripts/env.mjs";
import { fixtures, maxAbsDiff, reference, scratch } from "../helpers/python.ts";

const texts = [
  "reading passage easy story",
  "the old river and the mountain teacher",
  "science history number large small quick brown fox jumps over lazy dog",
];
const work = scratch("formats");
const dirs: Record<string, string> = {};

before(() => {
  const fx = fixtures();
  // Written by transformers (safetensors shards) and huggingface_hub's torch.save writer (bin),
  // from the fixture models; 40KB shards split the tiny models into several files.
  const requests = [
    { name: "bin", src: fx["bert-regression"], safe: false },
    { name: "bin-3class", src: fx["bert-3class"], safe: false },
    { name: "roberta-bin", src: fx["roberta-3class"], safe: false },
    { name: "sharded-safetensors", src: fx["bert-3class"], safe: true, max_shard_size: "40KB" },
    { name: "sharded-bin", src: fx["roberta-regression"], safe: false, max_shard_size: "40KB" },
  ];
  reference(
    "resave",
    [],
    requests.map(({ name, ...r }) => ({ ...r, dst: join(work, name) })),
  );
  for (const r of requests) dirs[r.name] = join(work, r.name);
});

function parity(name: string) {
  const dir = dirs[name] as string;
  const [want] = reference<{ logits: number[][] }[]>("forward", [], [{ dir, texts, max_length: 32 }]);
  const model = native.SequenceModel.load(dir, { maxLength: 32, device: "cpu" });
  const info = model.info();
  assert.deepEqual(info.initialized, [], `${name}: every weight comes from the checkpoint`);
  const diff = maxAbsDiff(model.predict(texts), want?.logits);
  assert.ok(diff < 1e-4, `${name}: max |diff| ${diff}`);
  return diff;
}

test("a pytorch_model.bin-only folder predicts within 1e-4 of transformers", () => {
  assert.deepEqual(
    readdirSync(dirs.bin as string).filter((f) => /\.(bin|safetensors)$/.test(f)),
    ["pytorch_model.bin"],
  );
  for (const name of ["bin", "bin-3class", "roberta-bin"]) parity(name);
});

test("sharded checkpoints (model.safetensors.index.json, pytorch_model.bin.index.json) load", () => {
  for (const [name, index, shard] of [
    ["sharded-safetensors", "model.safetensors.index.json", /^model-\d+-of-\d+\.safetensors$/],
    ["sharded-bin", "pytorch_model.bin.index.json", /^pytorch_model-\d+-of-\d+\.bin$/],
  ] as const) {
    const files = readdirSync(dirs[name] as string);
    assert.ok(files.includes(index), name);
    assert.ok(files.filter((f) => shard.test(f)).length >= 2, `${name} is split: ${files.join(", ")}`);
    parity(name);
  }
});

/** A copy of the bin folder whose pytorch_model.bin is `bytes`. */
function withBin(name: string, bytes: Buffer): string {
  const dir = join(work, name);
  mkdirSync(dir);
  for (const f of readdirSync(dirs.bin as string)) copyFileSync(join(dirs.bin as string, f), join(dir, f));
  writeFileSync(join(dir, "pytorch_model.bin"), bytes);
  return dir;
}

test("a damaged or hostile pytorch_model.bin is one plain message, and the process lives on", () => {
  const good = readFileSync(join(dirs.bin as string, "pytorch_model.bin"));
  const plain = /^cannot read .*pytorch_model\.bin as a PyTorch state dict \(a torch\.save zip\): [^\n]+$/;
  const cases: Record<string, Buffer> = {
    truncated: good.subarray(0, Math.floor(good.length / 2)),
    "not-a-zip": Buffer.from("this is not a checkpoint\n".repeat(40)),
    empty: Buffer.alloc(0),
  };
  // A pickle that would run a shell command under Python's pickle.load: libtorch's unpickler
  // knows only the globals tensors need, so it refuses it.
  const hostile = spawnSync(
    venvPython,
    [
      "-c",
      [
        "import io, os, pickle, sys, zipfile",
        "class Evil:",
        "    def __reduce__(self): return (os.system, ('touch PWNED',))",
        "buf = io.BytesIO()",
        "with zipfile.ZipFile(buf, 'w') as z:",
        "    z.writestr('archive/data.pkl', pickle.dumps({'w': Evil()}, protocol=2))",
        "    z.writestr('archive/version', '3\\n')",
        "sys.stdout.buffer.write(buf.getvalue())",
      ].join("\n"),
    ],
    { encoding: "buffer", cwd: work },
  );
  assert.equal(hostile.status, 0, hostile.stderr.toString());
  cases.hostile = hostile.stdout;
  // A state dict whose values are not tensors.
  const notTensors = spawnSync(
    venvPython,
    [
      "-c",
      "import io, sys, torch\nb = io.BytesIO()\ntorch.save({'w': [1, 2]}, b)\nsys.stdout.buffer.write(b.getvalue())",
    ],
    { encoding: "buffer" },
  );
  assert.equal(notTensors.status, 0, notTensors.stderr.toString());
  cases["not-tensors"] = notTensors.stdout;
  for (const [name, bytes] of Object.entries(cases)) {
    const dir = withBin(name, bytes);
    assert.throws(
      () => native.SequenceModel.load(dir, { device: "cpu" }),
      (err: Error) => {
        assert.match(err.message, plain, `${name}: ${err.message}`);
        return true;
      },
    );
  }
  assert.ok(!existsSync(join(work, "PWNED")), "nothing ran");
  // Still alive, still loading.
  assert.equal(native.SequenceModel.load(dirs.bin as string, { device: "cpu" }).info().layers, 3);
});

test("a shard index that names a missing shard or a path outside the folder says so", () => {
  const src = dirs["sharded-safetensors"] as string;
  const copy = (name: string, edit: (index: { weight_map: Record<string, string> }) => void) => {
    const dir = join(work, name);
    mkdirSync(dir);
    for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dir, f));
    const path = join(dir, "model.safetensors.index.json");
    const index = JSON.parse(readFileSync(path, "utf8"));
    edit(index);
    writeFileSync(path, JSON.stringify(index));
    return dir;
  };
  const missing = copy("missing-shard", (i) => {
    const first = Object.keys(i.weight_map)[0] as string;
    i.weight_map[first] = "model-00009-of-00009.safetensors";
  });
  assert.throws(
    () => native.SequenceModel.load(missing, { device: "cpu" }),
    /names the shard model-00009-of-00009\.safetensors, which is missing from .*: the download is incomplete/,
  );
  const outside = copy("escaping-shard", (i) => {
    const first = Object.keys(i.weight_map)[0] as string;
    i.weight_map[first] = "../../etc/passwd";
  });
  assert.throws(
    () => native.SequenceModel.load(outside, { device: "cpu" }),
    /names the shard "\.\.\/\.\.\/etc\/passwd", which is not a file name/,
  );
});
