// ftune serve: the app's API and UI over HTTP on this machine, for a browser.
import type { Command } from "commander";
import { RayError } from "../../core/runs/ray/bridge.ts";
import { openCore } from "../../core/service/index.ts";
import { defaultDataDir } from "../../core/store/index.ts";
import { type RunningServer, startServer } from "../../server/server.ts";
import { addBackendOptions, type BackendOptions, backendCoreOptions, chooseBackend } from "../backend.ts";
import { EXIT, UserError } from "../errors.ts";

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UserError(`--port must be 0-65535, got "${value}"`, EXIT.usage);
  return n;
}

/** Why the server could not listen, in a sentence (the port is taken, the address is not ours). */
export function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (code === "EADDRINUSE") {
    return new UserError(
      `port ${port} is already in use on ${host}: stop what uses it, or pick another port with --port (--port 0 takes any free one)`,
    );
  }
  if (code === "EACCES") {
    return new UserError(`not allowed to listen on ${where}: ports below 1024 need privileges; pick a higher --port`);
  }
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new UserError(`cannot listen on ${where}: "${host}" is not an address of this machine; check --host`);
  }
  return err;
}

export function registerServe(program: Command): void {
  const cmd = program
    .command("serve")
    .description("serve the UI and API on http://127.0.0.1 (a token in the printed URL guards the API)")
    .option("--port <n>", "port (0: any free one)", port, 0)
    .option("--host <host>", "address to bind; anything but 127.0.0.1 exposes the API to the network", "127.0.0.1");
  addBackendOptions(cmd).action(async (o: { port: number; host: string } & BackendOptions) => {
    // Handlers first: until one is installed, a signal kills the process outright (so a
    // script that stops the server as soon as it sees the URL would skip the shutdown).
    const stopped = new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.stderr.write(`ftune: ${signal}: stopping (cancelling the run in progress)...\n`);
        resolve();
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
    });
    const dataDir = defaultDataDir();
    // The app's saved backend applies when no flag (or FTUNE_BACKEND) says otherwise.
    const choice = chooseBackend(o, true);
    const saved = choice.from === "settings" ? " (the app's saved setting; --backend local overrides it)" : "";
    const core = await openCore(dataDir, {
      ...backendCoreOptions(o, true),
      requireEngine: false,
      resumeSweeps: true,
    }).catch((err: unknown) => {
      throw err instanceof RayError ? new UserError(`Ray backend${saved}: ${err.message}`) : err;
    });
    let server: RunningServer;
    try {
      server = await startServer({
        handlers: core.handlers,
        events: core.events,
        dataDir,
        host: o.host,
        port: o.port,
      });
    } catch (err) {
      await core.close();
      throw listenError(err, o.host, o.port);
    }
    // The last line of defence: a bug that throws outside any request must not take the
    // server down, nor the runs it records (each trains in its own process, reporting here).
    const survive = (err: unknown) =>
      process.stderr.write(
        `ftune: internal error (the server keeps running): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    process.on("uncaughtException", survive);
    process.on("unhandledRejection", survive);
    await core.runs.startQueued();
    if (o.host !== "127.0.0.1" && o.host !== "localhost" && o.host !== "::1") {
      process.stderr.write(
        `ftune: WARNING: listening on ${o.host}, reachable from other machines. Anyone with the token can train and read your data; use --host only on a trusted network.\n`,
      );
    }
    process.stderr.write(`ftune: data folder ${dataDir}\n`);
    if (choice.backend === "ray")
      process.stderr.write(
        `ftune: runs train on Ray (${choice.rayAddress ?? "a local Ray for this server"})${saved}\n`,
      );
    process.stdout.write(`Finetune Studio is running at ${server.url}\n`);
    await stopped;
    await server.close();
    await core.close();
  });
}
