// A package index's "simple" API (PEP 503 HTML, PEP 691 JSON): the files of a project with their
// sha256, and the choice of a wheel by name, version and platform.

export interface IndexFile {
  filename: string;
  url: string;
  sha256: string | null;
}

/** PEP 503's normalized project name. */
export const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");

/** Every file of `project` on the index at `indexUrl` (https://…/simple). */
export async function projectFiles(indexUrl: string, project: string): Promise<IndexFile[]> {
  const page = `${indexUrl.replace(/\/+$/, "")}/${normalize(project)}/`;
  let res: Response;
  try {
    res = await fetch(page, { headers: { Accept: "application/vnd.pypi.simple.v1+json, text/html;q=0.1" } });
  } catch (err) {
    throw new Error(
      `cannot reach the package index ${indexUrl} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message})`,
    );
  }
  if (res.status === 404) throw new Error(`the package index ${indexUrl} has no project "${project}"`);
  if (!res.ok) throw new Error(`the package index ${indexUrl} answered ${res.status} for ${project}`);
  const type = res.headers.get("content-type") ?? "";
  const body = await res.text();
  if (type.includes("json")) {
    const json = JSON.parse(body) as { files?: { filename: string; url: string; hashes?: { sha256?: string } }[] };
    return (json.files ?? []).map((f) => ({
      filename: f.filename,
      url: new URL(f.url, page).href,
      sha256: f.hashes?.sha256 ?? null,
    }));
  }
  const files: IndexFile[] = [];
  for (const m of body.matchAll(/<a\s[^>]*href="([^"]+)"[^>]*>([^<]+)<\/a>/gi)) {
    const href = (m[1] as string).replaceAll("&amp;", "&");
    const url = new URL(href, page);
    const sha256 = url.hash.match(/sha256=([0-9a-f]{64})/i)?.[1] ?? null;
    url.hash = "";
    files.push({ filename: (m[2] as string).trim(), url: url.href, sha256 });
  }
  return files;
}

/** This machine's wheel platform suffix (manylinux…_x86_64), or null where no wheel fits. */
export function wheelArch(): string | null {
  if (process.platform !== "linux") return null;
  return process.arch === "x64" ? "x86_64" : process.arch === "arm64" ? "aarch64" : null;
}

interface WheelName {
  name: string;
  version: string;
  local: string | null;
  python: string;
  abi: string;
  platform: string;
}

/** Parses `name-version(+local)-python-abi-platform.whl`. */
export function parseWheel(filename: string): WheelName | null {
  const m = filename.match(/^([\w.]+)-([\w.!]+?)(?:\+([\w.]+))?-([\w.]+)-([\w.]+)-([\w.]+)\.whl$/);
  if (!m) return null;
  const [, name, version, local, python, abi, platform] = m as unknown as [
    string,
    string,
    string,
    string | undefined,
    string,
    string,
    string,
  ];
  return { name, version, local: local ?? null, python, abi, platform };
}

const fitsPlatform = (w: WheelName, arch: string) =>
  w.platform === "any" || w.platform.split(".").some((p) => /^(manylinux|linux)/.test(p) && p.endsWith(`_${arch}`));

/**
 * The torch wheel for `series` (2.11.) and `variant`: for "cpu" a `+cpu` build, for "cuda" a plain
 * (PyPI's CUDA build) or `+cu…` one; any CPython ABI but the free-threaded one (the engine uses
 * only the libraries, which are the same in each), the newest Python first.
 */
export function pickTorchWheel(files: IndexFile[], series: string, variant: "cpu" | "cuda", arch: string) {
  const wanted = (local: string | null) =>
    variant === "cpu" ? local === "cpu" : local === null || /^cu\d+/.test(local);
  const fits = files
    .map((file) => ({ file, wheel: parseWheel(file.filename) }))
    .filter(
      (x): x is { file: IndexFile; wheel: WheelName } =>
        x.wheel !== null &&
        x.wheel.name === "torch" &&
        x.wheel.version.startsWith(series) &&
        wanted(x.wheel.local) &&
        /^cp\d+$/.test(x.wheel.abi) &&
        fitsPlatform(x.wheel, arch),
    );
  const pyNumber = (abi: string) => Number(abi.slice(2));
  fits.sort((a, b) => pyNumber(b.wheel.abi) - pyNumber(a.wheel.abi));
  return fits[0]?.file ?? null;
}

export interface Requirement {
  name: string;
  extras: string[];
  /** `==X` pins X; `==X.*` any version starting with X. */
  version: string;
  prefix: boolean;
}

/** The newest wheel of `req` for this platform. */
export function pickDependencyWheel(files: IndexFile[], req: Requirement, arch: string): IndexFile | null {
  const matches = files
    .map((file) => ({ file, wheel: parseWheel(file.filename) }))
    .filter(
      (x): x is { file: IndexFile; wheel: WheelName } =>
        x.wheel !== null &&
        normalize(x.wheel.name) === normalize(req.name) &&
        (req.prefix
          ? x.wheel.version.startsWith(`${req.version}.`) || x.wheel.version === req.version
          : x.wheel.version === req.version) &&
        fitsPlatform(x.wheel, arch),
    );
  const parts = (v: string) => v.split(".").map((p) => Number.parseInt(p, 10) || 0);
  matches.sort((a, b) => {
    const [pa, pb] = [parts(a.wheel.version), parts(b.wheel.version)];
    for (let i = 0; i < Math.max(pa.length, pb.length); i++)
      if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pb[i] ?? 0) - (pa[i] ?? 0);
    return 0;
  });
  return matches[0]?.file ?? null;
}

/** Does a requirement's environment marker hold on Linux, with `extras` requested? */
function markerHolds(marker: string, extras: string[]): boolean {
  const extra = marker.match(/extra\s*==\s*['"]([\w.-]+)['"]/);
  if (extra && !extras.includes(extra[1] as string)) return false;
  const platforms = [...marker.matchAll(/(?:platform_system|sys_platform)\s*==\s*['"](\w+)['"]/g)].map((m) =>
    (m[1] as string).toLowerCase(),
  );
  return platforms.length === 0 || platforms.includes("linux");
}

/**
 * The native libraries a wheel's METADATA pins for Linux: `nvidia-*` wheels, and the
 * `cuda-toolkit[…]` meta-package through which torch's CUDA build asks for most of them
 * (followed by the caller, with the extras named). Python-only requirements are not followed.
 */
export function nativeRequirements(metadata: string, extras: string[] = []): Requirement[] {
  const out: Requirement[] = [];
  const line =
    /^Requires-Dist:\s*([\w.-]+)\s*(?:\[([^\]]*)\])?\s*\(?\s*==\s*([\w.]+?)(\.\*)?\s*\)?\s*(?:;\s*(.*))?$/gim;
  for (const m of metadata.matchAll(line)) {
    const name = m[1] as string;
    if (!/^(nvidia-|cuda-toolkit$)/i.test(name)) continue;
    if (!markerHolds(m[5] ?? "", extras)) continue;
    const reqExtras = (m[2] ?? "")
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean);
    out.push({ name, extras: reqExtras, version: m[3] as string, prefix: Boolean(m[4]) });
  }
  return out;
}
