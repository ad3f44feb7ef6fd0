// Models by Hugging Face id, from the hub's own cache layout (the folder Python's transformers
// and huggingface_hub fill): <cache>/models--<org>--<name>/refs/<revision> names a commit, whose
// files are in snapshots/<commit>/. Nothing here reaches the network.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub` (the hub's rules). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface");
  return join(home, "hub");
}

/** "org/name" or "org/name@revision" (a branch, tag or commit); null when `ref` is not an id. */
export function parseHubId(ref: string): { id: string; revision: string } | null {
  const m = /^([A-Za-z0-9][\w.-]*\/)?([A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?$/.exec(ref);
  if (!m?.[1]) return null; // a bare name is a relative folder, not an id
  return { id: `${m[1]}${m[2]}`, revision: m[3] ?? "main" };
}

const repoDir = (cache: string, id: string) => join(cache, `models--${id.replace("/", "--")}`);

/** The snapshot folder of `ref` in the cache; throws a message saying what is missing. */
export function resolveHubModel(ref: string, env: NodeJS.ProcessEnv = process.env): string {
  const parsed = parseHubId(ref);
  if (!parsed) throw new Error(`"${ref}" is not a Hugging Face model id (org/name, optionally @revision)`);
  const cache = hubCacheDir(env);
  const repo = repoDir(cache, parsed.id);
  if (!existsSync(repo)) {
    throw new Error(
      `${parsed.id} is not in the Hugging Face cache (${cache}); download it first (e.g. \`huggingface-cli download ${parsed.id}\`), or give a model folder`,
    );
  }
  let commit = parsed.revision;
  if (!/^[0-9a-f]{40}$/.test(commit)) {
    const ref = join(repo, "refs", commit);
    if (!existsSync(ref)) throw new Error(`${parsed.id} has no revision "${commit}" in the cache (${repo}/refs)`);
    commit = readFileSync(ref, "utf8").trim();
  }
  const snapshot = join(repo, "snapshots", commit);
  if (!existsSync(join(snapshot, "config.json"))) {
    throw new Error(`${parsed.id}@${parsed.revision}: the cached snapshot ${snapshot} has no config.json`);
  }
  return snapshot;
}

export interface CachedModel {
  id: string;
  path: string;
  modelType: string;
  layers: number;
  /** Bytes of the files the snapshot points at. */
  bytes: number;
}

/** The ids a cached repo answers to: `org/name` when it has `main`, else `org/name@<ref>` per ref. */
function cachedRefs(cache: string, id: string): string[] {
  const refs = join(repoDir(cache, id), "refs");
  const names = existsSync(refs) ? readdirSync(refs).filter((r) => statSync(join(refs, r)).isFile()) : [];
  return names.includes("main") ? [id] : names.sort().map((r) => `${id}@${r}`);
}

/** Every model of the cache with a snapshot holding a config.json that `main` (or a ref) names. */
export function listCachedModels(env: NodeJS.ProcessEnv = process.env): CachedModel[] {
  const cache = hubCacheDir(env);
  if (!existsSync(cache)) return [];
  const out: CachedModel[] = [];
  const refs = readdirSync(cache)
    .sort()
    .filter((name) => name.startsWith("models--"))
    .flatMap((name) => cachedRefs(cache, name.slice("models--".length).replace("--", "/")));
  for (const id of refs) {
    let path: string;
    try {
      path = resolveHubModel(id, env);
    } catch {
      continue;
    }
    const config = JSON.parse(readFileSync(join(path, "config.json"), "utf8")) as Record<string, unknown>;
    const bytes = readdirSync(path).reduce((sum, f) => sum + statSync(join(path, f)).size, 0);
    const layers = Number(config.num_hidden_layers ?? config.n_layers ?? 0);
    out.push({ id, path, modelType: String(config.model_type ?? "unknown"), layers, bytes });
  }
  return out;
}
