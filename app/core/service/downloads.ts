// Model downloads by Hugging Face id for the app: the call answers once the hub has said which
// files it will fetch (or why it cannot), the bytes then arrive in the background and every
// front end follows them through `model-download` events, as runs report progress.
import type { DownloadStarted } from "../api/contract.ts";
import { badRequest } from "../api/errors.ts";
import type { EventHub } from "../events.ts";
import { HubDownloadError, hubSettings, planDownload, runDownload } from "../models/hub-download.ts";

/** At most one event per file and this many ms in between: enough for a smooth bar. */
const PROGRESS_INTERVAL_MS = 200;

export class ModelDownloads {
  readonly #events: EventHub;
  readonly #active = new Map<string, { abort: AbortController; done: Promise<void> }>();

  constructor(events: EventHub) {
    this.#events = events;
  }

  async start(ref: string, env: NodeJS.ProcessEnv = process.env): Promise<DownloadStarted> {
    const settings = hubSettings(env);
    let plan: Awaited<ReturnType<typeof planDownload>>;
    try {
      plan = await planDownload(ref.trim(), settings);
    } catch (err) {
      throw err instanceof HubDownloadError ? badRequest(err.message) : err;
    }
    const id = plan.revision === "main" ? plan.id : `${plan.id}@${plan.revision}`;
    if (this.#active.has(id)) throw badRequest(`${id} is already downloading`);
    const abort = new AbortController();
    const base = { type: "model-download" as const, id, totalBytes: plan.totalBytes };
    let last = 0;
    let lastFile = "";
    // Throttled, with the latest report sent at the end of the interval (a stalled connection
    // still shows the bytes that did arrive).
    let trailing: NodeJS.Timeout | undefined;
    const publish = (file: string, bytes: number) => {
      clearTimeout(trailing);
      trailing = undefined;
      last = Date.now();
      lastFile = file;
      this.#events.publish({ ...base, status: "running", file, bytes });
    };
    this.#events.publish({ ...base, status: "running", file: null, bytes: 0 });
    const done = runDownload(
      plan,
      settings,
      (p) => {
        const wait = PROGRESS_INTERVAL_MS - (Date.now() - last);
        if (p.file !== lastFile || wait <= 0) return publish(p.file, p.bytes);
        clearTimeout(trailing);
        trailing = setTimeout(() => publish(p.file, p.bytes), wait);
      },
      abort.signal,
    ).finally(() => clearTimeout(trailing));
    const settled = done.then(
      (path) => this.#events.publish({ ...base, status: "done", file: null, bytes: plan.totalBytes, path }),
      (err: unknown) =>
        this.#events.publish({
          ...base,
          status: "failed",
          file: null,
          bytes: 0,
          error: abort.signal.aborted ? "stopped: the app closed" : (err as Error).message,
        }),
    );
    this.#active.set(id, { abort, done: settled.finally(() => this.#active.delete(id)) });
    return { id, revision: plan.revision, commit: plan.commit, files: plan.files.length, totalBytes: plan.totalBytes };
  }

  /** Stops what is downloading (its .incomplete files stay, for the next try to resume). */
  async close(): Promise<void> {
    for (const d of this.#active.values()) d.abort.abort();
    await Promise.all([...this.#active.values()].map((d) => d.done));
  }
}
