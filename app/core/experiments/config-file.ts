// Experiment configs as users write them (YAML or JSON files, or objects from the UI):
// relative paths resolved against the file's folder, then validated and completed with
// defaults by the native engine, so the CLI, the UI and training agree on every rule.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse } from "yaml";

import { EngineLoadError, native } from "../../native/addon.ts";
import { resolveModel } from "../models/bundled.ts";
import { describeValueProblem, findValueProblem, isStackOverflow, MAX_NESTING } from "../plain-value.ts";
import type { ExperimentConfig } from "./config-types.ts";

/** A config problem the user must fix; the message names the field. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Validates a config object and fills in every default (throws ConfigError). */
export function normalizeConfig(raw: unknown, baseDir = process.cwd()): ExperimentConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new ConfigError("config: expected a mapping of settings");
  // Before anything recursive (structuredClone, JSON, the engine) sees it; also catches YAML's
  // .nan/.inf, which JSON would pass on as null.
  const problem = findValueProblem(raw);
  if (problem) throw new ConfigError(describeValueProblem(problem, "the config"));
  const config = structuredClone(raw) as Record<string, unknown>;
  if (typeof config.model === "string") config.model = resolveModel(config.model, baseDir);
  const data = config.data as Record<string, unknown> | undefined;
  if (data && typeof data === "object") {
    for (const key of ["train", "valid"]) {
      const p = data[key];
      if (typeof p === "string" && !isAbsolute(p)) data[key] = resolve(baseDir, p);
    }
  }
  try {
    return JSON.parse(native.normalizeConfig(JSON.stringify(config))) as ExperimentConfig;
  } catch (e) {
    if (e instanceof EngineLoadError) throw e;
    throw new ConfigError((e as Error).message);
  }
}

export function loadConfigFile(path: string): ExperimentConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new ConfigError(`cannot read the config file ${path}`);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    if (isStackOverflow(e)) {
      throw new ConfigError(
        `${path} is nested too deeply to read (a config has at most ${MAX_NESTING} levels): look for runaway brackets or indentation`,
      );
    }
    throw new ConfigError(`${path} is not valid YAML/JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  return normalizeConfig(raw, dirname(resolve(path)));
}
