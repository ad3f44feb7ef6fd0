// Downloads a model by Hugging Face id into the hub's own cache layout (blobs/<etag>,
// snapshots/<commit>/<file> → ../../blobs/<etag>, refs/<revision>), so that Python's
// transformers finds the same files. The official client (@huggingface/hub) answers the
// metadata (commit, file list) and writes the snapshot links; it restarts a file from zero, so
// the bytes themselves come through its Blob's ranged reads into blobs/<etag>.incomplete, which
// a rerun continues from where it stopped. Only the files a fine-tune needs are fetched.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdir, rename, stat, truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import {
  downloadFile,
  downloadFileToCacheDir,
  fileDownloadInfo,
  HubApiError,
  type ListFileEntry,
  listFiles,
  modelInfo,
} from "@huggingface/hub";

import { hubCacheDir, parseHubId, resolveHubModel } from "./hf-cache.ts";

/** A failure whose message is written for the user (what went wrong, what to do). */
export class HubDownloadError extends Error {
  override readonly name = "HubDownloadError";
}

export interface HubSettings {
  hubUrl: string;
  token?: string;
  cacheDir: string;
  offline: boolean;
}

const truthy = (v: string | undefined) => v !== undefined && ["1", "true", "yes", "on"].includes(v.toLowerCase());

/** The hub's environment variables, as huggingface_hub reads them. */
export function hubSettings(env: NodeJS.ProcessEnv = process.env): HubSettings {
  let token = env.HF_TOKEN || undefined;
  // `hf auth login` (huggingface-cli login) keeps the token in $HF_HOME/token.
  const tokenFile = env.HF_TOKEN_PATH ?? join(hubCacheDir({ ...env, HF_HUB_CACHE: undefined }), "..", "token");
  if (!token && existsSync(tokenFile)) token = readFileSync(tokenFile, "utf8").trim() || undefined;
  return {
    hubUrl: (env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, ""),
    token,
    cacheDir: hubCacheDir(env),
    offline: truthy(env.HF_HUB_OFFLINE),
  };
}

export interface PlannedFile {
  path: string;
  size: number;
  /** The blob's name in the cache: the LFS sha256, else the git object id (as the hub's ETag). */
  etag: string;
  /** sha256 of the content, for LFS files (the weights): checked before a blob is kept. */
  sha256?: string;
}

export interface DownloadPlan {
  id: string;
  revision: string;
  commit: string;
  files: PlannedFile[];
  totalBytes: number;
}

export interface DownloadProgress {
  file: string;
  fileBytes: number;
  fileSize: number;
  /** Bytes of the whole plan on disk, files already cached included. */
  bytes: number;
  totalBytes: number;
  /** Bytes this file already had from an interrupted download, on the first report of a file. */
  resumedFrom?: number;
}

const TOKENIZER_FILES = new Set([
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "vocab.txt",
  "vocab.json",
  "merges.txt",
]);
/** The weight forms the engine reads, in transformers' order of preference, with their shards. */
const WEIGHT_FORMS: { file: string; shard: RegExp }[] = [
  { file: "model.safetensors", shard: /^$/ },
  { file: "model.safetensors.index.json", shard: /^model-\d+-of-\d+\.safetensors$/ },
  { file: "pytorch_model.bin", shard: /^$/ },
  { file: "pytorch_model.bin.index.json", shard: /^pytorch_model-\d+-of-\d+\.bin$/ },
];
/** sentence-transformers modules (1_Pooling/, 2_Dense/): their config and weights. */
const MODULE_FILE = /^\d+_[A-Za-z]+\/(config\.json|model\.safetensors|pytorch_model\.bin)$/;

/** The files of a repo listing that a fine-tune needs; throws when a needed one is missing. */
export function pickFiles(label: string, entries: ListFileEntry[]): ListFileEntry[] {
  const files = entries.filter((e) => e.type === "file");
  const names = new Set(files.map((f) => f.path));
  if (!names.has("config.json"))
    throw new HubDownloadError(`${label} has no config.json: it is not a transformers model`);
  const form = WEIGHT_FORMS.find((w) => names.has(w.file));
  if (!form) {
    const listed = [...names].slice(0, 12).join(", ");
    throw new HubDownloadError(
      `${label} has no weights Finetune Studio reads (model.safetensors, pytorch_model.bin, or their sharded *.index.json); it holds: ${listed}`,
    );
  }
  if (!names.has("tokenizer.json"))
    throw new HubDownloadError(
      `${label} has no tokenizer.json (a fast tokenizer); Finetune Studio reads only that. Make one with transformers: AutoTokenizer.from_pretrained("${label.split("@")[0]}").save_pretrained(FOLDER), then use the folder`,
    );
  return files.filter(
    (f) =>
      f.path === "config.json" ||
      f.path === form.file ||
      form.shard.test(f.path) ||
      TOKENIZER_FILES.has(f.path) ||
      f.path === "modules.json" ||
      f.path === "sentence_bert_config.json" ||
      f.path === "config_sentence_transformers.json" ||
      MODULE_FILE.test(f.path),
  );
}

/** The hub's errors and a missing network as one sentence each. */
export function hubMessage(error: unknown, what: { id: string; revision: string; hubUrl: string; token?: string }) {
  if (error instanceof HubDownloadError) return error;
  const code = (error as { errorCode?: string }).errorCode;
  if (error instanceof HubApiError) {
    const status = error.statusCode;
    if (code === "GatedRepo" || (status === 403 && !code))
      return new HubDownloadError(
        what.token
          ? `${what.id} is gated and the account of HF_TOKEN has no access yet: accept its conditions at ${what.hubUrl}/${what.id}`
          : `${what.id} is gated: accept its conditions at ${what.hubUrl}/${what.id}, then set HF_TOKEN to an access token of that account`,
      );
    if (code === "RevisionNotFound")
      return new HubDownloadError(`${what.id} has no revision "${what.revision}" on ${what.hubUrl}`);
    if (code === "RepoNotFound" || status === 404 || (status === 401 && !what.token))
      return new HubDownloadError(
        `${what.id} was not found on ${what.hubUrl}: check the id (org/name); a private model also needs HF_TOKEN`,
      );
    if (status === 401)
      return new HubDownloadError(`${what.hubUrl} refused HF_TOKEN (401): check that the token is valid`);
    return new HubDownloadError(`${what.hubUrl} answered ${status} for ${what.id}; try again later`);
  }
  if (error instanceof TypeError && /access token must start with/.test(error.message))
    return new HubDownloadError("HF_TOKEN is not a Hugging Face access token (they start with hf_)");
  const cause = (error as { cause?: { code?: string } }).cause;
  if (error instanceof TypeError && (error.message === "fetch failed" || cause?.code))
    return new HubDownloadError(
      `cannot reach ${what.hubUrl}${cause?.code ? ` (${cause.code})` : ""}: check the network connection (or HF_ENDPOINT)`,
    );
  const text = error instanceof Error ? error.message : String(error);
  if (/terminated|ECONNRESET|socket|network/i.test(text))
    return new HubDownloadError(
      `the connection to ${what.hubUrl} broke off (${text}); run the download again to resume it`,
    );
  return error instanceof Error ? error : new Error(text);
}

/** fetch that keeps the hub's X-Error-Code on the error the client throws for the response. */
function codedFetch(): { fetch: typeof fetch; code: () => string | undefined } {
  let last: string | undefined;
  return {
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      last = response.ok ? undefined : (response.headers.get("X-Error-Code") ?? undefined);
      return response;
    },
    code: () => last,
  };
}

async function withCode<T>(hub: ReturnType<typeof codedFetch>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof HubApiError) Object.assign(err, { errorCode: hub.code() });
    throw err;
  }
}

const repoDir = (settings: HubSettings, id: string) => join(settings.cacheDir, `models--${id.replace("/", "--")}`);

/** Resolves an id (org/name[@revision]) to a commit and the files to fetch, without fetching them. */
export async function planDownload(ref: string, settings: HubSettings): Promise<DownloadPlan> {
  const parsed = parseHubId(ref);
  if (!parsed) throw new HubDownloadError(`"${ref}" is not a Hugging Face model id (org/name, optionally @revision)`);
  const { id, revision } = parsed;
  if (settings.offline)
    throw new HubDownloadError(
      `HF_HUB_OFFLINE is set, so nothing is downloaded; unset it to download ${id}${revision === "main" ? "" : `@${revision}`}`,
    );
  const hub = codedFetch();
  const common = { hubUrl: settings.hubUrl, accessToken: settings.token, fetch: hub.fetch };
  const what = { id, revision, hubUrl: settings.hubUrl, token: settings.token };
  try {
    const info = await withCode(hub, () =>
      modelInfo({ ...common, name: id, revision, additionalFields: ["sha"] as const }),
    );
    const commit = (info as { sha?: string }).sha;
    if (!commit || !/^[0-9a-f]{40}$/.test(commit))
      throw new HubDownloadError(`${settings.hubUrl} gave no commit for ${id}@${revision}`);
    const entries: ListFileEntry[] = [];
    await withCode(hub, async () => {
      for await (const e of listFiles({
        ...common,
        repo: { type: "model", name: id },
        revision: commit,
        recursive: true,
      }))
        entries.push(e);
    });
    const files = pickFiles(`${id}@${revision}`, entries).map((f) => ({
      path: f.path,
      size: f.lfs?.size ?? f.size,
      // The same rule as the client's downloadFileToCacheDir, so that it finds our blob.
      etag: f.lfs?.oid ?? f.xetHash ?? f.oid ?? "",
      sha256: f.lfs?.oid,
    }));
    // A gated repo lists its files to anyone; its files need a granted token: ask before planning.
    if (info.gated)
      await withCode(hub, () =>
        fileDownloadInfo({ ...common, repo: { type: "model", name: id }, path: "config.json", revision: commit }),
      );
    const nameless = files.find((f) => !f.etag);
    if (nameless) throw new HubDownloadError(`${settings.hubUrl} gave no object id for ${id}/${nameless.path}`);
    return { id, revision, commit, files, totalBytes: files.reduce((s, f) => s + f.size, 0) };
  } catch (err) {
    throw hubMessage(err, what);
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

/**
 * Fetches the plan's files into the cache (continuing any `.incomplete` blob), links the
 * snapshot and writes refs/<revision>; returns the snapshot folder.
 */
export async function runDownload(
  plan: DownloadPlan,
  settings: HubSettings,
  onProgress: (p: DownloadProgress) => void = () => {},
  signal?: AbortSignal,
): Promise<string> {
  const hub = codedFetch();
  const repo = { type: "model" as const, name: plan.id };
  const common = { hubUrl: settings.hubUrl, accessToken: settings.token, fetch: hub.fetch, repo };
  const what = { id: plan.id, revision: plan.revision, hubUrl: settings.hubUrl, token: settings.token };
  const dir = repoDir(settings, plan.id);
  let done = 0;
  try {
    for (const file of plan.files) {
      const blob = join(dir, "blobs", file.etag);
      if (!existsSync(blob)) {
        await fetchBlob(file, blob, (fileBytes, resumedFrom) =>
          onProgress({
            file: file.path,
            fileBytes,
            fileSize: file.size,
            bytes: done + fileBytes,
            totalBytes: plan.totalBytes,
            resumedFrom,
          }),
        );
      }
      done += file.size;
      onProgress({
        file: file.path,
        fileBytes: file.size,
        fileSize: file.size,
        bytes: done,
        totalBytes: plan.totalBytes,
      });
      // The blob is in place: the client only links snapshots/<commit>/<path> to it.
      await withCode(hub, () =>
        downloadFileToCacheDir({ ...common, path: file.path, revision: plan.commit, cacheDir: settings.cacheDir }),
      );
      signal?.throwIfAborted();
    }
  } catch (err) {
    throw hubMessage(err, what);
  }
  // Last, so that an interrupted download never names a snapshot missing its weights.
  if (plan.revision !== plan.commit) {
    await mkdir(join(dir, "refs", ...plan.revision.split("/").slice(0, -1)), { recursive: true });
    await writeFile(join(dir, "refs", plan.revision), plan.commit);
  }
  return join(dir, "snapshots", plan.commit);

  async function fetchBlob(file: PlannedFile, blob: string, report: (bytes: number, resumedFrom?: number) => void) {
    const incomplete = `${blob}.incomplete`;
    await mkdir(join(dir, "blobs"), { recursive: true });
    let have = await sizeOf(incomplete);
    if (have > file.size) {
      await truncate(incomplete, 0);
      have = 0;
    }
    report(have, have);
    if (have < file.size) {
      const remote = await withCode(hub, () => downloadFile({ ...common, path: file.path, revision: plan.commit }));
      if (!remote) throw new HubDownloadError(`${plan.id}@${plan.commit} has no ${file.path} any more`);
      let bytes = have;
      const count = new Transform({
        transform(chunk: Buffer, _enc, next) {
          bytes += chunk.length;
          report(bytes);
          next(null, chunk);
        },
      });
      // A ranged read from `have` (the client's Blob.slice sends Range: bytes=have-).
      const body = Readable.fromWeb(remote.slice(have).stream() as WebReadableStream);
      await withCode(hub, () => pipeline(body, count, createWriteStream(incomplete, { flags: "a" }), { signal }));
    }
    const got = await sizeOf(incomplete);
    const digest = file.sha256 ? await sha256Of(incomplete) : undefined;
    if (got !== file.size || (digest && digest !== file.sha256)) {
      await unlink(incomplete).catch(() => {});
      throw new HubDownloadError(
        `${file.path} arrived damaged (${got} of ${file.size} bytes${digest && got === file.size ? ", checksum differs" : ""}); run the download again`,
      );
    }
    await rename(incomplete, blob);
  }
}

export interface DownloadResult {
  id: string;
  revision: string;
  commit: string;
  path: string;
  /** True when the cache already held every file (nothing was fetched). */
  cached: boolean;
}

/**
 * Downloads `ref` unless the cache already holds it; under HF_HUB_OFFLINE a cached model is
 * fine and anything else is one message.
 */
export async function downloadModel(
  ref: string,
  options: {
    env?: NodeJS.ProcessEnv;
    onPlan?: (plan: DownloadPlan) => void;
    onProgress?: (p: DownloadProgress) => void;
    signal?: AbortSignal;
  } = {},
): Promise<DownloadResult> {
  const env = options.env ?? process.env;
  const settings = hubSettings(env);
  const parsed = parseHubId(ref);
  if (settings.offline && parsed) {
    try {
      const path = resolveHubModel(ref, env);
      return { id: parsed.id, revision: parsed.revision, commit: path.split("/").at(-1) ?? "", path, cached: true };
    } catch {
      // Not cached: planDownload says why nothing is downloaded.
    }
  }
  const plan = await planDownload(ref, settings);
  options.onPlan?.(plan);
  const dir = repoDir(settings, plan.id);
  const cached = plan.files.every((f) => existsSync(join(dir, "blobs", f.etag)));
  const path = await runDownload(plan, settings, options.onProgress, options.signal);
  return { id: plan.id, revision: plan.revision, commit: plan.commit, path, cached };
}
