// How commands reach the app core: open the data folder ($FTUNE_HOME or the default), call API
// methods through the same dispatcher (and validation) as the UI, close on the way out.
import type { Input, Method, Output } from "../core/api/contract.ts";
import { dispatch } from "../core/api/dispatch.ts";
import { diskFullMessage } from "../core/disk-full.ts";
import { RayError } from "../core/runs/ray/bridge.ts";
import { type Core, type CoreOptions, openCore } from "../core/service/index.ts";
import { defaultDataDir } from "../core/store/index.ts";
import { EXIT, UserError } from "./errors.ts";

export async function withCore<T>(fn: (core: Core) => Promise<T>, options: CoreOptions = {}): Promise<T> {
  const dataDir = defaultDataDir();
  const core = await openCore(dataDir, options).catch((err: unknown) => {
    // SQLite's "disk is full" names no file: say which folder it was.
    const full = diskFullMessage(err, `opening the data folder ${dataDir}`);
    if (err instanceof RayError) throw new UserError(`Ray backend: ${err.message}`);
    throw full ? new UserError(full) : err;
  });
  try {
    return await fn(core);
  } catch (err) {
    // A raw store error of a full disk (the run's own failures are already plain).
    const full = err instanceof UserError ? undefined : diskFullMessage(err, `writing to the data folder ${dataDir}`);
    throw full ? new UserError(full) : err;
  } finally {
    await core.close();
  }
}

export function call<M extends Method>(core: Core, method: M, input: Input<M>): Promise<Output<M>> {
  return dispatch(core.handlers, method, input) as Promise<Output<M>>;
}

/** A positive whole-number id argument, or a usage error. */
export function idArg(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} must be a positive whole number, got "${value}"`);
  return n;
}

class UsageError extends UserError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}
