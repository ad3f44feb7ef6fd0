// The backend setting behind the app's engine panel: where runs train (here, or as Ray tasks).
// A running process keeps the backend it started with (its run queue and Ray driver are built
// around it); a saved change applies at the next start of the app or `ftune serve`.
import type { BackendInfo } from "../api/contract.ts";
import type { Handlers } from "../api/dispatch.ts";
import { readSettings, updateSettings } from "../settings.ts";
import type { Context } from "./context.ts";

function info(ctx: Context): BackendInfo {
  const saved = readSettings(ctx.dataDir);
  return {
    active: ctx.ray ? { backend: "ray", rayAddress: ctx.ray.address ?? null } : { backend: "local", rayAddress: null },
    saved: { backend: saved.backend ?? "local", rayAddress: saved.rayAddress ?? null },
    problem: ctx.backendProblem ?? null,
    foldsAtOnce: { active: ctx.ray ? null : ctx.runs.concurrency, saved: saved.foldsAtOnce ?? 1 },
  };
}

export function backendHandlers(ctx: Context): Pick<Handlers, "backendSettings" | "setBackend"> {
  return {
    backendSettings: async () => info(ctx),
    async setBackend(input) {
      // A local backend keeps no address; a Ray one without an address means a local Ray.
      // Folds at once stay saved through a switch to Ray (they apply when back on local).
      updateSettings(
        {
          backend: input.backend,
          rayAddress: input.backend === "ray" ? input.rayAddress : undefined,
          ...(input.foldsAtOnce === undefined ? {} : { foldsAtOnce: input.foldsAtOnce }),
        },
        ctx.dataDir,
      );
      return info(ctx);
    },
  };
}
