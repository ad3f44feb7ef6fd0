// Config errors as a user reads them. The engine names the field at fault first ("llrd.decay
// must be in (0, 1], got 1.5"); messages that come from its JSON parser speak Rust
// ("invalid value: integer `-5`, expected usize") and are put in plain words here.

/**
 * The field a config message is about, as a dotted path ("llrd.groups.1.lr" for the engine's
 * "llrd.groups[1].lr"), or null when it names none a form could point at (a whole section).
 */
export function fieldOfMessage(message: string): string | null {
  const m = /^([a-z_]+(?:\[\d+\])?(?:\.[a-z_0-9]+(?:\[\d+\])?)*)(?=[\s:]|$)/.exec(message);
  if (!m?.[1] || (!m[1].includes(".") && !["model", "task", "encoder_dropout"].includes(m[1]))) return null;
  return m[1].replace(/\[(\d+)\]/g, ".$1");
}

const KINDS: [RegExp, string][] = [
  [/^(usize|u8|u16|u32|u64)$/, "a whole number (0 or more)"],
  [/^(isize|i8|i16|i32|i64)$/, "a whole number"],
  [/^(f32|f64)$/, "a number"],
  [/^(a boolean|bool)$/, "true or false"],
  [/^a string$/, "text"],
  [/^a sequence$/, "a list"],
  [/^(a map|struct .*)$/, "a group of settings"],
];

const kind = (rust: string) => KINDS.find(([re]) => re.test(rust.trim()))?.[1] ?? rust.trim();

const got = (what: string) =>
  what
    .replace(/^integer `(.*)`$/, "$1")
    .replace(/^floating point `(.*)`$/, "$1")
    .replace(/^string "(.*)"$/, '"$1"')
    .replace(/^boolean `(.*)`$/, "$1")
    .replace(/^sequence$/, "a list")
    .replace(/^map$/, "a group of settings")
    .replace(/^null$/, "nothing");

const list = (names: string) =>
  names
    .split(/,\s*/)
    .map((n) => n.replace(/^`|`$/g, ""))
    .join(", ");

/** "train: " for an unknown key "epochz" the parser reports at "train.epochz" (nothing at the top). */
const section = (path: string, key = "") => {
  const parent = path.endsWith(`.${key}`) ? path.slice(0, -key.length - 1) : path === key ? "" : path;
  return parent && parent !== "config" ? `${parent}: ` : "";
};

/** Rewrites of the parser's wording, tried in order: a pattern on the detail, and the message. */
const RULES: [RegExp, (path: string, m: RegExpExecArray) => string][] = [
  [/^invalid value: integer `(-[^`]*)`, expected u\w+$/, (path, m) => `${path} cannot be negative, got ${m[1]}`],
  [
    /^invalid (?:value|type): (.+), expected (.+)$/,
    (path, m) => `${path} must be ${kind(m[2] ?? "")}, got ${got(m[1] ?? "")}`,
  ],
  [
    /^unknown variant `(.*)`, expected (?:one of )?(.+)$/,
    (path, m) => `${path} must be one of ${list(m[2] ?? "")}; "${m[1]}" is not one of them`,
  ],
  [
    /^unknown field `(.*)`, expected (?:one of )?(.+)$/,
    (path, m) => `${section(path, m[1])}"${m[1]}" is not a setting here (the settings are ${list(m[2] ?? "")})`,
  ],
  [/^unknown field `(.*)`, there are no fields$/, (path, m) => `${section(path, m[1])}"${m[1]}" is not a setting here`],
  [/^missing field `(.*)`$/, (path, m) => `${path === "config" ? m[1] : `${path}.${m[1]}`} is required`],
];

/** The engine's message with its parser's wording replaced by plain words; other messages as they are. */
export function plainConfigMessage(message: string): string {
  const m = /^([^\s:]+): (.*)$/s.exec(message);
  if (!m) return message;
  const [, path = "", detail = ""] = m;
  for (const [pattern, rewrite] of RULES) {
    const found = pattern.exec(detail);
    if (found) return rewrite(path, found);
  }
  return message;
}
