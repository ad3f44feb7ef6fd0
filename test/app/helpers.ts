// Shared by the app suites: a tiny labelled CSV the fixture models can learn from, configs that
// train in a second on a CPU, a core over a scratch data folder, and the `ftune` CLI as a child.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Input, Method, Output } from "../../app/core/api/contract.ts";
import { dispatch } from "../../app/core/api/dispatch.ts";
import { type Core, type CoreOptions, openCore } from "../../app/core/service/index.ts";
import { cargoTargetDir } from "../../scripts/env.mjs";
import { fixtures } from "../helpers/python.ts";

const root = join(import.meta.dirname, "../..");

export const tinyModel = (): string => fixtures()["bert-regression"] as string;

/** Builds the engine's example binaries `names` (release; cargo skips what is up to date) and
 * returns the folder they are in. */
export function engineExamples(...names: string[]): string {
  const build = spawnSync(
    "node",
    ["scripts/cargo.mjs", "build", "--release", "-p", "ftune-engine", ...names.flatMap((n) => ["--example", n])],
    { cwd: root, encoding: "utf8" },
  );
  assert.equal(build.status, 0, build.stderr);
  return join(cargoTargetDir(), "release/examples");
}

export function scratchHome(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `ftune-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TinyRow {
  id: string;
  text: string;
  target: number;
}

/** Sentences from the fixture tokenizer's vocabulary, with a smooth regression target. */
export function tinyRows(n: number): TinyRow[] {
  const words = "reading passage story science history river mountain teacher student language".split(" ");
  return Array.from({ length: n }, (_, i) => ({
    id: `r${i}`,
    text: `${words[i % words.length]} ${"easy ".repeat(1 + (i % 4))}${words[(i * 3) % words.length]} number ${i}`,
    target: Math.round(Math.sin(i) * 2000) / 1000,
  }));
}

export function writeTinyCsv(dir: string, n: number, name = "tiny.csv"): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `id,text,target\n${tinyRows(n)
      .map((r) => `${r.id},${r.text},${r.target}`)
      .join("\n")}\n`,
  );
  return path;
}

/**
 * A YAML experiment file `name` for `ftune train`: the tiny model on a tiny CSV of `rows` rows
 * (16 tokens), then `lines` (folds, train, …). Returns both paths.
 */
export function writeTinyExperiment(
  dir: string,
  name: string,
  rows: number,
  lines: string[],
): { config: string; csv: string } {
  const csv = writeTinyCsv(dir, rows);
  const config = join(dir, name);
  const head = [`model: ${tinyModel()}`, `data: { train: ${csv}, text: text, label: target, max_length: 16 }`];
  writeFileSync(config, [...head, ...lines].join("\n"));
  return { config, csv };
}

/** An experiment config (data comes from the dataset) that trains in about a second. */
export function tinyConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: tinyModel(),
    data: { max_length: 32 },
    folds: { k: 2, strategy: "stratified", seed: 7 },
    head: { dropout: 0 },
    encoder_dropout: 0,
    train: { epochs: 2, batch_size: 4, device: "cpu", seed: 11 },
    optimizer: { lr: 1e-3 },
    ...overrides,
  };
}

export async function testCore(dir: string, options: CoreOptions = {}): Promise<Core> {
  return openCore(dir, { progressIntervalMs: 0, ...options });
}

/** Calls an API method as a transport would (validation and error mapping included). */
export function api<M extends Method>(core: Core, method: M, input: Input<M>): Promise<Output<M>> {
  return dispatch(core.handlers, method, input) as Promise<Output<M>>;
}

/** A dataset from the tiny CSV, tokenized with the fixture model. */
export async function tinyDataset(core: Core, rows = 24) {
  const model = await api(core, "addModel", { path: tinyModel(), name: "tiny" });
  return api(core, "importDataset", {
    path: writeTinyCsv(core.dataDir, rows, `tiny-${rows}.csv`),
    mapping: { text: "text", label: "target", id: "id" },
    task: "regression",
    modelId: model.id,
    maxLength: 32,
  });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/ftune.js ...args` with FTUNE_HOME set. */
export function ftune(args: string[], home: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, "bin/ftune.js"), ...args], {
      cwd: root,
      env: { ...process.env, FTUNE_HOME: home, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** JSON objects of a command's stdout, one per line. */
export const jsonLines = (text: string): Record<string, unknown>[] =>
  text
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
