// The `ftune` command line: one commander program, one module per command.
import { Command, CommanderError } from "commander";

import { registerAblate } from "./commands/ablate.ts";
import { registerDatasets } from "./commands/datasets.ts";
import { registerDemo } from "./commands/demo.ts";
import { registerEngine } from "./commands/engine.ts";
import { registerExport } from "./commands/export.ts";
import { registerInfo } from "./commands/info.ts";
import { registerModels } from "./commands/models.ts";
import { registerPredict } from "./commands/predict.ts";
import { registerRuns } from "./commands/runs.ts";
import { registerSchedule } from "./commands/schedule.ts";
import { registerServe } from "./commands/serve.ts";
import { registerSweep } from "./commands/sweep.ts";
import { registerTrain } from "./commands/train.ts";
import { EXIT, report } from "./errors.ts";

const program = new Command("ftune")
  .description("Finetune Studio: fine-tune transformer encoders for text regression and classification")
  .version("0.1.0")
  .exitOverride()
  .showHelpAfterError("(run with --help for usage)");

registerPredict(program);
registerSchedule(program);
registerTrain(program);
registerAblate(program);
registerSweep(program);
registerDatasets(program);
registerModels(program);
registerRuns(program);
registerExport(program);
registerServe(program);
registerDemo(program);
registerInfo(program);
registerEngine(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    process.exitCode = report(error);
  }
}
