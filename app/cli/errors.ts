// What the user sees when a command fails: one message, never a stack, and an exit code
// that means something (see EXIT).
import { ApiError } from "../core/api/errors.ts";
import { DatasetError } from "../core/datasets/index.ts";
import { diskFullMessage } from "../core/disk-full.ts";
import { ConfigError } from "../core/experiments/config-file.ts";
import { TrainingError } from "../engine/training.ts";
import { EngineLoadError } from "../native/addon.ts";

export const EXIT = {
  ok: 0,
  /** The run or command failed (bad data, a NaN loss, a model it cannot read). */
  failed: 1,
  /** Wrong usage or an invalid config: fix the command or the file. */
  usage: 2,
  /** Interrupted by the user (Ctrl-C) or cancelled. */
  cancelled: 130,
} as const;

/** A failure whose message is already written for the user. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

export function report(error: unknown): number {
  const say = (text: string) => process.stderr.write(`ftune: ${text}\n`);
  // However it surfaced (Node's ENOSPC, SQLite, the engine's message), a full disk says so.
  const full = error instanceof TrainingError && error.cancelled ? undefined : diskFullMessage(error);
  if (full) {
    say(full);
    return EXIT.failed;
  }
  if (error instanceof DatasetError) {
    say(error.message);
    return EXIT.failed;
  }
  if (error instanceof EngineLoadError) {
    say(error.message);
    return EXIT.failed;
  }
  if (error instanceof ConfigError) {
    say(`invalid config: ${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof TrainingError) {
    say(error.cancelled ? "cancelled" : error.message);
    return error.cancelled ? EXIT.cancelled : EXIT.failed;
  }
  if (error instanceof ApiError) {
    // The input or the thing asked for is wrong (400/404); a 500 is a failure of ours.
    say(error.message);
    return error.status === 500 || error.details.problems ? EXIT.failed : EXIT.usage;
  }
  if (error instanceof UserError) {
    say(error.message);
    return error.exitCode;
  }
  // Errors from the native engine carry a message written for the user (GenericFailure).
  if (error instanceof Error && (error as { code?: string }).code === "GenericFailure") {
    say(error.message);
    return EXIT.failed;
  }
  say(`unexpected error: ${error instanceof Error ? error.message : String(error)}`);
  if (process.env.FTUNE_DEBUG) console.error(error);
  return EXIT.failed;
}
