// The one entry point both transports (HTTP and Electron IPC) call: look up the method,
// validate the raw input with the contract's schema, run the handler, and turn any failure
// into an ApiError with a status the transport can send as is.
import { DatasetError } from "../datasets/errors.ts";
import { ConfigError } from "../experiments/config-file.ts";
import { ConfigIssues } from "../service/config-issues.ts";
import { type Method, methods, type Output, type ParsedInput } from "./contract.ts";
import { ApiError } from "./errors.ts";

/** A handler per method, taking the input already parsed (defaults applied) by the contract. */
export type Handlers = { [M in Method]: (input: ParsedInput<M>) => Promise<Output<M>> };

export const isMethod = (name: string): name is Method => Object.hasOwn(methods, name);

/** Runs `method` on `rawInput`; resolves with its result or rejects with an ApiError. */
export async function dispatch(handlers: Handlers, method: string, rawInput: unknown): Promise<unknown> {
  if (!isMethod(method)) throw new ApiError(404, `Unknown method "${method}"`);
  const parsed = methods[method].safeParse(rawInput ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
    const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
    throw new ApiError(400, `Invalid input for ${method}: ${summary}`, { issues });
  }
  try {
    const handler = handlers[method] as (input: unknown) => Promise<unknown>;
    return await handler(parsed.data);
  } catch (err) {
    throw toApiError(err);
  }
}

/** Maps what handlers throw to a status: the user's input (400) or our failure (500). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof DatasetError) return new ApiError(400, err.message, { problems: err.problems });
  if (err instanceof ConfigIssues) return new ApiError(400, err.message, { issues: err.issues });
  if (err instanceof ConfigError) return new ApiError(400, err.message);
  return new ApiError(500, err instanceof Error ? err.message : String(err));
}
