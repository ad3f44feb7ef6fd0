// Loaded (--import) into a fake utility process before its entry: Electron's process.parentPort
// over Node's IPC channel. Messages from the fake parent arrive wrapped and go to parentPort's
// listeners only, never to process "message" listeners, as in a real utility process.
const PORT = "__fakeParentPort";
const send = process.send.bind(process);
const listeners = [];
const emit = process.emit.bind(process);
process.emit = (name, ...args) => {
  const message = args[0];
  if (name === "message" && message && typeof message === "object" && PORT in message) {
    for (const listener of listeners) listener({ data: message[PORT] });
    return true;
  }
  return emit(name, ...args);
};
process.parentPort = {
  postMessage: (data) => send({ [PORT]: data }),
  on(event, listener) {
    if (event === "message") listeners.push(listener);
  },
};
// A utility process has no Node IPC of its own: the adapter must not rely on it.
process.send = undefined;
process.disconnect = undefined;
