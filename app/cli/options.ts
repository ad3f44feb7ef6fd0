// Option parsers shared by the commands.
import { InvalidArgumentError } from "commander";

export function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}
