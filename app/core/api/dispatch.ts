// The one entry point both transports (HTTP and Electron IPC) call: look up the method,
// validate the raw input with the contract's schema, run the handler, and turn any failure
// into an ApiError with a status the transport can send as is.
import { DatasetError } from "../datasets/errors.ts";
import { diskFullMessage } from "../disk-full.ts";
import { ConfigError } from "../experiments/config-file.ts";
import { describeValueProblem, findValueProblem } from "../plain-value.ts";
import { ConfigIssues } from "../service/config-issues.ts";
import { type Method, methods, type Output, type ParsedInput } from "./contract.ts";
import { ApiError } from "./errors.ts";

/** A handler per method, taking the input already parsed (defaults applied) by the contract. */
export type Handlers = { [M in Method]: (input: ParsedInput<M>) => Promise<Output<M>> };

export const isMethod = (name: string): name is Method => Object.hasOwn(methods, name);

/** Runs `method` on `rawInput`; resolves with its result or rejects with an ApiError. */
export async function dispatch(handlers: Handlers, method: string, rawInput: unknown): Promise<unknown> {
  if (!isMethod(method)) throw new ApiError(404, `Unknown method "${method}"`);
  // Before the schema and the handlers, which recurse: any depth gets a 400, not a stack overflow.
  const problem = findValueProblem(rawInput);
  if (problem) {
    const message = describeValueProblem(problem, "the input");
    throw new ApiError(400, `Invalid input for ${method}: ${message}`, { issues: [{ path: problem.path, message }] });
  }
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

const BUILT_IN_ERRORS = new Set(["TypeError", "RangeError", "ReferenceError", "SyntaxError", "EvalError", "URIError"]);

/**
 * An error whose message is about our code, not the user's request: a JS built-in error (a bug,
 * a stack overflow), a system call's or SQLite's error, Node's ERR_* codes, or a non-Error.
 */
function isInternal(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  if (BUILT_IN_ERRORS.has(err.name)) return true;
  const e = err as { code?: unknown; errno?: unknown; syscall?: unknown };
  if (e.syscall !== undefined || e.errno !== undefined) return true;
  return typeof e.code === "string" && /^(ERR_|SQLITE_)/.test(e.code);
}

export const INTERNAL_ERROR = "Internal error: the request could not be completed. The details are in the app's log.";

/**
 * Maps what handlers throw to a status: the user's input (400) or our failure (500). A 500 says
 * what the user can act on (a full disk, an engine message written for them) and nothing of our
 * internals: those go to the log (stderr).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof DatasetError) return new ApiError(400, err.message, { problems: err.problems });
  if (err instanceof ConfigIssues) return new ApiError(400, err.message, { issues: err.issues });
  if (err instanceof ConfigError) return new ApiError(400, err.message);
  const full = diskFullMessage(err);
  if (full) return new ApiError(500, full);
  if (isInternal(err)) {
    console.error("ftune: internal error:", err);
    return new ApiError(500, INTERNAL_ERROR);
  }
  return new ApiError(500, (err as Error).message);
}
