#!/usr/bin/env node
// The `ftune` command. TypeScript runs through tsx, so there is no build step to forget.
import { register } from "tsx/esm/api";

register();
await import("../app/cli/main.ts");
