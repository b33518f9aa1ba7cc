/**
 * The instance file: how `npm run demo` (or a person) finds a running `npm start`: its URLs, its
 * pid and the admin key it generated. JSON, mode 0600, in a 0700 directory.
 *
 * - With a data dir: `<data dir>/apex-instance.json`. It stays after shutdown, because the admin
 *   key of that database is generated (and shown) only at its first start.
 * - Otherwise (in-memory store, or DATABASE_URL): one per HTTP port, outside the repository, in
 *   `<os.tmpdir()>/apex-local-<uid>/<port>/apex-instance.json`, removed at clean shutdown. Per user
 *   so that two users of one machine do not share (or plant) each other's files.
 *
 * A file whose pid has exited is stale: apex-local replaces it, the demo says it ignores it.
 */
import { chmod, lstat, mkdir, readFile, rename, rm, rmdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export const instanceFileName = "apex-instance.json";

export interface InstanceRecord {
  /** Base URL of the HTTP API, e.g. http://localhost:8080. */
  readonly url: string;
  /** host:port of the gRPC API. */
  readonly grpc: string;
  readonly metricsUrl: string;
  readonly pid: number;
  readonly startedAt: string;
  /** Absolute; unset when the store is in memory (or DATABASE_URL). */
  readonly dataDir?: string;
  /** Only a key Apex generated; never APEX_BOOTSTRAP_ADMIN_KEY (the user already has that one). */
  readonly adminKey?: string;
}

function userTag(): string {
  return String(process.getuid?.() ?? os.userInfo().username);
}

/** Parent of the per-port directories, e.g. /tmp/apex-local-1000. */
export function perPortRoot(): string {
  return path.join(os.tmpdir(), `apex-local-${userTag()}`);
}

export function instanceFilePath(where: { readonly dataDir?: string; readonly httpPort: number }): string {
  return where.dataDir ? path.join(where.dataDir, instanceFileName) : path.join(perPortRoot(), String(where.httpPort), instanceFileName);
}

/** True when the file is one apex-local removes at shutdown (no data dir). */
export function isPerProcess(file: string): boolean {
  return path.dirname(path.dirname(file)) === perPortRoot();
}

/** Refuses a shared temp directory someone else created (they could swap the file for one naming their URL). */
async function checkPerPortRoot(): Promise<void> {
  const root = perPortRoot();
  const stat = await lstat(root);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) {
    throw new Error(`${root} is not a directory of this user; remove it (apex-local keeps its instance files there)`);
  }
  if ((stat.mode & 0o077) !== 0) await chmod(root, 0o700);
}

export async function writeInstanceFile(file: string, record: InstanceRecord): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  if (isPerProcess(file)) await checkPerPortRoot();
  // Write then rename: a reader never sees half a file.
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(partial, file);
}

/** The record, or undefined when there is no file. A file that is not a record is an error naming it. */
export async function readInstanceFile(file: string): Promise<InstanceRecord | undefined> {
  let text: string;
  try {
    if (isPerProcess(file)) await checkPerPortRoot();
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let record: Partial<InstanceRecord>;
  try {
    record = JSON.parse(text) as Partial<InstanceRecord>;
  } catch {
    throw new Error(`${file} is not an Apex instance file (not JSON); delete it`);
  }
  if (typeof record.url !== "string" || typeof record.pid !== "number") {
    throw new Error(`${file} is not an Apex instance file (no url or pid); delete it`);
  }
  return record as InstanceRecord;
}

/** Removes the file, and its per-port directory when that is left empty. */
export async function removeInstanceFile(file: string): Promise<void> {
  await rm(file, { force: true });
  if (isPerProcess(file)) await rmdir(path.dirname(file)).catch(() => undefined);
}

/** Whether a process with this pid exists (it may belong to another user: EPERM). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
