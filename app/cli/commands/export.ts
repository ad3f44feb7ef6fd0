// ftune export: a run's best or final checkpoint as a folder that loads the standard way for
// its head (transformers for cls, sentence-transformers for mean pooling), with a model card.
import { resolve } from "node:path";

import type { Command } from "commander";
import { Option } from "commander";

import { call, idArg, withCore } from "../core.ts";

export function registerExport(program: Command): void {
  program
    .command("export <run>")
    .description(
      "write a run's checkpoint as a Hugging Face folder with a model card: cls loads in transformers, mean pooling in sentence-transformers",
    )
    .option("--out <dir>", "new or empty folder to write (default: a new folder under the data folder's exports/)")
    .addOption(new Option("--kind <kind>", "which checkpoint").choices(["best", "final"]).default("best"))
    .option("--json", "print { path, head, note, python } as JSON")
    .action(async (run: string, o: { out?: string; kind: "best" | "final"; json?: boolean }) => {
      await withCore(async (core) => {
        // On the command line a relative folder means one under the current directory.
        const outDir = o.out === undefined ? undefined : resolve(o.out);
        const result = await call(core, "exportRun", { id: idArg(run, "run id"), kind: o.kind, outDir });
        if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else process.stdout.write(`wrote ${result.path}\n${result.note}\n\n${result.python}\n`);
      });
    });
}
