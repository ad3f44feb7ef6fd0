// What the browser tests share: a real `ftune serve` on a temporary data folder, headless
// Debian Chromium driven by playwright-core, a direct API client for checks, screenshots, and
// a record of console errors and CSP violations (each test ends by asserting there were none).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";

import type { Input, Method, Output } from "../../app/core/api/contract.ts";
import { chromiumPath } from "../../scripts/env.mjs";

const root = join(import.meta.dirname, "../..");
/** Debian's /usr/bin/chromium unless FTUNE_CHROMIUM names another Chromium or Chrome. */
export const CHROMIUM = chromiumPath;
export const SCREENSHOTS = join(root, "test-results/screenshots");

export interface Served {
  url: string;
  origin: string;
  token: string;
  home: string;
  call<M extends Method>(method: M, input: Input<M>): Promise<Output<M>>;
  /** SIGKILLs the server's training worker (as a crash or the OOM killer would); returns how many. */
  killWorker(): number;
  /** SIGKILLs the server itself (a crash, the OOM killer) and waits until it is gone. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A copy of the checkout's app whose engine addon has no RUNPATH (as in a package): its engine
 * does not load until one is set up. app/, bin/ and scripts/ are copied (modules resolve from
 * where they are), node_modules and the renderer build are linked.
 */
export function checkoutWithoutEngine(): string {
  const dir = mkdtempSync(join(tmpdir(), "ftune-e2e-app-"));
  for (const folder of ["app", "bin", "scripts"]) cpSync(join(root, folder), join(dir, folder), { recursive: true });
  copyFileSync(join(root, "package.json"), join(dir, "package.json"));
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  mkdirSync(join(dir, "renderer"));
  symlinkSync(join(root, "renderer/dist"), join(dir, "renderer/dist"));
  mkdirSync(join(dir, "native"));
  for (const file of readdirSync(join(root, "native")).filter((f) => /^(index\.js|package\.json|.*\.node)$/.test(f))) {
    copyFileSync(join(root, "native", file), join(dir, "native", file));
    if (file.endsWith(".node")) execFileSync("patchelf", ["--remove-rpath", join(dir, "native", file)]);
  }
  return dir;
}

/**
 * Starts `ftune serve --port 0` on a fresh FTUNE_HOME and reads the URL (with its token) it
 * prints; from `appRoot` (default: this checkout); `env` adds to its environment (say,
 * HF_ENDPOINT for a stand-in hub).
 */
export async function serve({
  appRoot = root,
  env = {},
}: {
  appRoot?: string;
  env?: NodeJS.ProcessEnv;
} = {}): Promise<Served> {
  const home = mkdtempSync(join(tmpdir(), "ftune-e2e-"));
  const child: ChildProcess = spawn(process.execPath, [join(appRoot, "bin/ftune.js"), "serve", "--port", "0"], {
    cwd: appRoot,
    // A Hugging Face cache of its own, so the user's is never read.
    env: { ...process.env, FTUNE_HOME: home, HF_HUB_CACHE: join(home, "hf-hub"), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ftune serve printed no URL in 60 s:\n${output}`)), 60_000);
    const read = (chunk: Buffer) => {
      output += chunk;
      const m = /(http:\/\/\S+#token=\S+)/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on("data", read);
    child.stderr?.on("data", read);
    child.once("exit", (code) => reject(new Error(`ftune serve exited (${code}):\n${output}`)));
  });
  const parsed = new URL(url);
  const token = new URLSearchParams(parsed.hash.slice(1)).get("token") ?? "";
  return {
    url,
    origin: parsed.origin,
    token,
    home,
    async call(method, input) {
      const response = await fetch(`${parsed.origin}/api/rpc/${method}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(input),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(`${method}: ${response.status} ${JSON.stringify(body)}`);
      return body;
    },
    killWorker() {
      const children = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(child.pid)], { encoding: "utf8" });
      const workers = children
        .split("\n")
        .filter((line) => line.includes("worker-entry"))
        .map((line) => Number.parseInt(line.trim(), 10));
      for (const pid of workers) process.kill(pid, "SIGKILL");
      return workers.length;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export interface Session {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and CSP violations seen so far. */
  problems: string[];
}

export async function openBrowser(url: string, options: { colorScheme?: "light" | "dark" } = {}): Promise<Session> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run \`node scripts/setup.mjs --browser\` (Debian package chromium).`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    colorScheme: options.colorScheme ?? "light",
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    // Chromium logs every non-2xx fetch; a 400 is an answer the UI shows (an invalid setting,
    // a bad file), so only other failures count.
    if (m.type() === "error" && !m.text().includes("status of 400")) problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.stack ?? e.message}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  await page.goto(url);
  await page.locator("h1").first().waitFor();
  return { browser, context, page, problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // From the top (sticky parts then sit where a reader sees them), after the charts' next frame.
  await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur();
    window.scrollTo(0, 0);
    return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** One part of the page at full resolution (charts are easier to judge up close). */
export async function screenshotOf(locator: Locator, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await locator.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** Polls `read` until `ok` holds for its value; fails with the last value seen. */
export async function until<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  what: string,
  ms = 60_000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 150));
    last = await read();
  }
  return last;
}

export const openView = async (page: Page, label: string): Promise<void> => {
  await page.getByRole("navigation", { name: "Views" }).getByRole("button", { name: label }).click();
  await page.getByRole("heading", { level: 1, name: label }).waitFor();
};
