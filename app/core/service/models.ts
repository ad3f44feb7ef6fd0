// The models library: the bundled encoder (registered once set-up has installed it) and the
// Hugging Face folders users add. Loading a model proves the engine can use it and gives its
// summary; a model measuring token lengths at import stays loaded for the next import.
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";

import { EngineLoadError, type ModelInfo, native, type Tokenizer } from "../../native/addon.ts";
import type { ModelEntry } from "../api/contract.ts";
import { badRequest, notFound } from "../api/errors.ts";
import { BUNDLED_MODEL, bundledModelPath } from "../models/bundled.ts";
import { parseHubId, resolveHubModel } from "../models/hf-cache.ts";
import type { Queryable } from "../store/db.ts";
import { deleteModel, getModel, listModels, type Model, saveModel } from "../store/repo-models.ts";

export function toEntry(m: Model): ModelEntry {
  const s = m.summary as Partial<ModelInfo>;
  return {
    id: m.id,
    name: m.name,
    path: m.path,
    bundled: m.bundled,
    modelType: String(s.modelType ?? "unknown"),
    layers: Number(s.layers ?? 0),
    hiddenSize: Number(s.hiddenSize ?? 0),
    parameters: Number(s.parameters ?? 0),
  };
}

export class ModelLibrary {
  readonly #db: Queryable;
  /** Tokenizers by model folder, for token counts at import (no weights loaded). */
  readonly #tokenizers = new Map<string, Tokenizer>();

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** Registers the bundled encoder if it is installed and not registered yet. */
  async registerBundled(): Promise<Model | undefined> {
    const dir = bundledModelPath();
    if (!existsSync(dir)) return undefined;
    const known = (await listModels(this.#db)).find((m) => m.path === dir);
    return known ?? this.#register(dir, BUNDLED_MODEL, true);
  }

  async add(path: string, name?: string): Promise<ModelEntry> {
    const id = !existsSync(resolve(path)) ? parseHubId(path) : null;
    let dir = resolve(path);
    if (id) {
      try {
        dir = resolveHubModel(path);
      } catch (err) {
        throw badRequest((err as Error).message);
      }
    }
    if (!existsSync(join(dir, "config.json"))) {
      throw badRequest(`${dir} is not a Hugging Face model folder (it has no config.json).`);
    }
    return toEntry(await this.#register(dir, name ?? (id ? id.id : basename(dir)), false));
  }

  async list(): Promise<ModelEntry[]> {
    return (await listModels(this.#db)).map(toEntry);
  }

  async get(id: number): Promise<Model> {
    const model = await getModel(this.#db, id);
    if (!model) throw notFound(`Model ${id} does not exist`);
    return model;
  }

  /**
   * Takes a model out of the library; its folder stays on disk, and experiments that name it
   * keep their results. The bundled encoder is part of the app and stays.
   */
  async remove(id: number): Promise<{ removed: boolean }> {
    const model = await this.get(id);
    if (model.bundled) throw badRequest(`"${model.name}" is the bundled encoder; it cannot be removed.`);
    this.#tokenizers.delete(model.path);
    return { removed: await deleteModel(this.#db, id) };
  }

  /** The model that measures token lengths when none is chosen: the bundled encoder. */
  async defaultModel(): Promise<Model | undefined> {
    return (await listModels(this.#db)).find((m) => m.bundled);
  }

  /**
   * Token counts (special tokens included) per text, with the folder's tokenizer alone (no
   * weights), cut only at the model's own input limit so that texts past `max_length` show.
   */
  tokenLengths(dir: string): (texts: string[], pairs?: string[]) => number[] {
    let tokenizer = this.#tokenizers.get(dir);
    if (!tokenizer) {
      tokenizer = native.Tokenizer.forModel(dir);
      this.#tokenizers.set(dir, tokenizer);
    }
    const t = tokenizer;
    return (texts, pairs) => t.tokenize(texts, pairs).map((ids) => ids.length);
  }

  async #register(dir: string, name: string, bundled: boolean): Promise<Model> {
    let info: ModelInfo;
    try {
      // Not cached: a large model added to the library should not stay in memory.
      info = native.SequenceModel.load(dir, { device: "cpu" }).info();
    } catch (err) {
      if (err instanceof EngineLoadError) throw err;
      throw badRequest(`Cannot use ${dir} as a model: ${(err as Error).message}`);
    }
    const { initialized: _i, unused: _u, ...summary } = info;
    return saveModel(this.#db, { name, path: dir, bundled, summary: { ...summary } });
  }
}
