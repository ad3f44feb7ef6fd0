// Entry of a training utility process. The worker module (app/core/runs/worker-entry.ts)
// speaks Node's child-process IPC — process.send, "message" events, disconnect — which a
// utility process lacks; this maps that onto Electron's process.parentPort, then runs it.
const port = process.parentPort;

process.send = (message: unknown, ...rest: unknown[]): boolean => {
  port.postMessage(message);
  const callback = rest.find((x): x is (error: Error | null) => void => typeof x === "function");
  callback?.(null);
  return true;
};

port.on("message", (event) => process.emit("message", event.data, undefined));

// The worker disconnects after its last message. Posting is asynchronous and there is no flush
// callback, so give the message time to leave before the process ends.
process.disconnect = () => {
  setTimeout(() => process.exit(0), 500);
};

await import("../core/runs/worker-entry.ts");
