// A full disk, however it shows up: a Node error with code ENOSPC, SQLite's SQLITE_FULL, or
// the engine's message (Rust's "No space left on device (os error 28)", or a library's
// `IoError(Os { code: 28, kind: StorageFull, … })`). Each becomes one plain sentence.

const NODE_CODES = new Set(["ENOSPC", "EDQUOT", "SQLITE_FULL"]);
const IN_TEXT =
  /ENOSPC|EDQUOT|SQLITE_FULL|os error 28\b|code: 28\b|StorageFull|No space left on device|database or disk is full|Disk quota exceeded/i;

/** Whether `err` (an Error, or an engine message) says the disk is full. */
export function isDiskFull(err: unknown): boolean {
  if (typeof err === "string") return IN_TEXT.test(err);
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return (typeof code === "string" && NODE_CODES.has(code)) || IN_TEXT.test(err.message);
}

/** The file or folder a message mentions, if it names one (an absolute path). */
function mentionedPath(err: unknown): string | undefined {
  const path = (err as { path?: unknown } | null)?.path;
  if (typeof path === "string") return path;
  const text = typeof err === "string" ? err : err instanceof Error ? err.message : "";
  return /(?:^|[\s'"`(])(\/[^\s'"`:,)]+)/.exec(text)?.[1];
}

/**
 * "the disk is full (…)" for a full-disk error, with where it happened when known; undefined
 * for any other error. `doing` says what was being written ("saving the training state").
 */
export function diskFullMessage(err: unknown, doing?: string): string | undefined {
  if (!isDiskFull(err)) return undefined;
  const path = mentionedPath(err);
  const what = path ? `no space to write ${path}` : "no space left on device";
  return `The disk is full (${what}${doing ? ` while ${doing}` : ""}): free some space and try again.`;
}

/** `err`'s message, or the disk-full sentence when that is what it means. */
export function plainMessage(err: unknown, doing?: string): string {
  return diskFullMessage(err, doing) ?? (err instanceof Error ? err.message : String(err));
}
