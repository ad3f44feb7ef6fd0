// The app's data folder, shared by the CLI, the server, the desktop app and its workers.
import { homedir } from "node:os";
import { join } from "node:path";

/** `$FTUNE_HOME`, else `$XDG_DATA_HOME/finetune-studio`, else `~/.local/share/finetune-studio`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FTUNE_HOME) return env.FTUNE_HOME;
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, "finetune-studio");
  return join(homedir(), ".local", "share", "finetune-studio");
}
