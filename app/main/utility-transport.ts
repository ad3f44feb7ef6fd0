// Training workers as Electron utility processes instead of Node child processes (the CLI and
// `ftune serve` fork). Same messages, same crash isolation: a native crash or an out-of-memory
// kill ends the utility process, and the run service reports it from the exit.
import { utilityProcess } from "electron";

import type { ChildMessage } from "../core/runs/protocol.ts";
import type { WorkerProcess, WorkerTransport } from "../core/runs/worker.ts";

const STDERR_TAIL = 4000;

/** `entry`: the bundled utility-worker.ts (dist/main/worker.js). */
export function utilityTransport(entry: string): WorkerTransport {
  return (): WorkerProcess => {
    const child = utilityProcess.fork(entry, [], {
      serviceName: "Finetune Studio training",
      stdio: ["ignore", "ignore", "pipe"],
    });
    let tail = "";
    child.stderr?.on("data", (chunk: Buffer | string) => {
      tail = (tail + String(chunk)).slice(-STDERR_TAIL);
    });
    return {
      get pid() {
        return child.pid;
      },
      send: (message) => child.postMessage(message),
      onMessage: (listener) => child.on("message", (message) => listener(message as ChildMessage)),
      // A utility process reports only its exit code; a kill shows as a non-zero code.
      onExit: (listener) => child.once("exit", (code) => listener(code, null)),
      kill: (signal = "SIGKILL") => {
        // utilityProcess.kill() only sends SIGTERM; a hung native call needs SIGKILL.
        if (signal === "SIGKILL" && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
        else child.kill();
      },
      stderrTail: () => tail,
    };
  };
}
