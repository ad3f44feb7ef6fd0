// A stand-in for the Hugging Face hub on 127.0.0.1, serving fixture folders as repos the way
// the hub answers what @huggingface/hub asks: model info (/api/models/{id}/revision/{rev}),
// the file tree (/api/models/{id}/tree/{rev}), paths-info, and /{id}/resolve/{rev}/{file} with
// the hub's headers (X-Repo-Commit, ETag, X-Linked-Etag and X-Linked-Size for LFS files, which
// redirect to a "CDN" path), Range requests, and 401/403/404 with X-Error-Code.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative } from "node:path";

export interface FakeRepo {
  /** Folder whose files are the repo's files at `commit`. */
  dir: string;
  commit: string;
  /** Branches and tags → commit (main is added). */
  refs?: Record<string, string>;
  /** Files need `Authorization: Bearer <gatedToken>`. */
  gatedToken?: string;
}

interface RepoFile {
  path: string;
  content: Buffer;
  lfs: boolean;
  oid: string;
  sha256: string;
}

export interface FakeHub {
  url: string;
  /** Every request as "METHOD path [Range]". */
  log: string[];
  /** When set for a file name, its download sends this many bytes and then stalls. */
  stallAfter: Map<string, number>;
  /** Sends the rest of every stalled download (to clients still connected). */
  release(): void;
  close(): Promise<void>;
}

const LFS = /\.(safetensors|bin)$/;

function filesOf(dir: string): RepoFile[] {
  const out: RepoFile[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const content = readFileSync(p);
        const path = relative(dir, p);
        // git's object id of the content (the ETag of a regular file); sha256 for LFS ones.
        const oid = createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
        const sha256 = createHash("sha256").update(content).digest("hex");
        out.push({ path, content, lfs: LFS.test(path), oid, sha256 });
      }
    }
  };
  walk(dir);
  return out;
}

function fail(res: ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, { "Content-Type": "application/json", "X-Error-Code": code, "X-Error-Message": message });
  res.end(JSON.stringify({ error: message }));
}

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const log: string[] = [];
  const stallAfter = new Map<string, number>();
  const stalled = new Map<ServerResponse, Buffer>();
  const files = new Map(Object.entries(repos).map(([id, r]) => [id, filesOf(r.dir)]));

  const commitOf = (repo: FakeRepo, rev: string) => {
    const refs: Record<string, string> = { main: repo.commit, ...repo.refs };
    return Object.values(refs).includes(rev) ? rev : refs[rev];
  };

  function entry(f: RepoFile, expand: boolean, commit: string) {
    return {
      type: "file",
      path: f.path,
      oid: f.oid,
      size: f.content.length,
      ...(f.lfs && { lfs: { oid: f.sha256, size: f.content.length, pointerSize: 134 } }),
      ...(expand && { lastCommit: { id: commit, title: "fixture", date: "2026-01-01T00:00:00.000Z" } }),
    };
  }

  function sendBytes(req: IncomingMessage, res: ServerResponse, f: RepoFile, headers: Record<string, string>) {
    const size = f.content.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    let start = 0;
    let end = size - 1;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { "Content-Range": `bytes */${size}` });
        res.end();
        return;
      }
    }
    const body = f.content.subarray(start, end + 1);
    res.writeHead(range ? 206 : 200, {
      ...headers,
      "Accept-Ranges": "bytes",
      "Content-Length": String(body.length),
      "Content-Type": "application/octet-stream",
      ...(range && { "Content-Range": `bytes ${start}-${end}/${size}` }),
    });
    const stall = stallAfter.get(f.path);
    if (stall !== undefined && body.length > 1 && start < stall) {
      // Part of the file, then nothing: the client waits until it is killed.
      res.write(body.subarray(0, stall - start));
      stalled.set(res, body.subarray(stall - start));
      return;
    }
    res.end(body);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    log.push(`${req.method} ${decodeURIComponent(url.pathname)}${req.headers.range ? ` ${req.headers.range}` : ""}`);
    const auth = req.headers.authorization?.replace(/^Bearer /, "");
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree|paths-info)\/([^/]+)/.exec(url.pathname);
    if (m) {
      const [, id = "", kind, rawRev = ""] = m;
      const repo = repos[id];
      if (!repo) return fail(res, 401, "RepoNotFound", "Repository not found");
      const rev = decodeURIComponent(rawRev);
      const commit = commitOf(repo, rev);
      if (!commit) return fail(res, 404, "RevisionNotFound", "Invalid rev id");
      const list = files.get(id) ?? [];
      res.setHeader("Content-Type", "application/json");
      if (kind === "revision") {
        return res.end(
          JSON.stringify({
            _id: `id-${id}`,
            id,
            private: false,
            gated: repo.gatedToken ? "manual" : false,
            sha: commit,
            downloads: 0,
            likes: 0,
            lastModified: "2026-01-01T00:00:00.000Z",
            pipeline_tag: "text-classification",
          }),
        );
      }
      if (kind === "tree") return res.end(JSON.stringify(list.map((f) => entry(f, false, commit))));
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        const asked = JSON.parse(body) as { paths: string[]; expand?: boolean };
        res.end(
          JSON.stringify(
            list.filter((f) => asked.paths.includes(f.path)).map((f) => entry(f, Boolean(asked.expand), commit)),
          ),
        );
      });
      return;
    }
    m = /^\/cdn\/([^/]+)\/([0-9a-f]{64})$/.exec(url.pathname);
    if (m) {
      const f = [...files.values()].flat().find((x) => x.sha256 === m?.[2]);
      if (!f) return fail(res, 404, "EntryNotFound", "no such object");
      return sendBytes(req, res, f, { ETag: `"${f.sha256}"` });
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m) {
      const [, id = "", rawRev = "", path = ""] = m;
      const repo = repos[id];
      if (!repo) return fail(res, 401, "RepoNotFound", "Repository not found");
      if (repo.gatedToken && auth !== repo.gatedToken) {
        return auth
          ? fail(res, 403, "GatedRepo", `Access to model ${id} is restricted and you are not in the authorized list.`)
          : fail(res, 401, "GatedRepo", `Access to model ${id} is restricted. You must be authenticated to access it.`);
      }
      const commit = commitOf(repo, decodeURIComponent(rawRev));
      if (!commit) return fail(res, 404, "RevisionNotFound", "Invalid rev id");
      const f = files.get(id)?.find((x) => x.path === decodeURIComponent(path));
      if (!f) return fail(res, 404, "EntryNotFound", "Entry not found");
      const headers: Record<string, string> = { "X-Repo-Commit": commit, ETag: `"${f.oid}"` };
      if (f.lfs) {
        // As the hub does for LFS files: a redirect to the CDN, the real size and hash in X-Linked-*.
        res.writeHead(302, {
          ...headers,
          "X-Linked-Etag": `"${f.sha256}"`,
          "X-Linked-Size": String(f.content.length),
          Location: `/cdn/${encodeURIComponent(id)}/${f.sha256}`,
        });
        return res.end();
      }
      return sendBytes(req, res, f, headers);
    }
    fail(res, 404, "EntryNotFound", "not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    stallAfter,
    release() {
      stallAfter.clear();
      for (const [r, rest] of stalled) if (!r.destroyed) r.end(rest);
      stalled.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of stalled.keys()) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
