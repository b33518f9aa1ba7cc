/**
 * The data dir of `npm start -- --data-dir <dir>`: PGlite's database files plus the instance file.
 * A directory apex-local creates gets mode 0700 (the instance file holds the admin key) and a
 * `.gitignore` of `*`, as Python's venv does, so a data dir made inside a git checkout stays out of
 * `git status` whatever its name. Two processes on one PGlite directory would corrupt it: the
 * second start refuses while the first still answers.
 */
import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { httpPaths } from "../contract/services";
import { instanceFilePath, isProcessAlive, readInstanceFile } from "./instance-file";

const selfIgnore = "# Created by apex-local (npm start --data-dir): Apex's local database. Not for git.\n*\n";

/** Creates the directory when missing; a new or empty one gets the self-ignoring .gitignore. */
export async function prepareDataDir(dir: string): Promise<void> {
  let entries: string[] | undefined;
  try {
    entries = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") throw new Error(`--data-dir ${dir} is a file, not a directory`, { cause: err });
    if (code !== "ENOENT") throw err;
  }
  if (entries === undefined) await mkdir(dir, { recursive: true, mode: 0o700 });
  if (entries === undefined || entries.length === 0) await writeFile(path.join(dir, ".gitignore"), selfIgnore, { flag: "wx" });
}

/** Throws when another live Apex serves this data dir (its pid runs and its URL answers). */
export async function assertDataDirFree(dir: string): Promise<void> {
  const record = await readInstanceFile(instanceFilePath({ dataDir: dir, httpPort: 0 }));
  if (!record || record.pid === process.pid || !isProcessAlive(record.pid)) return;
  // A live pid alone may be a reused one: the other Apex must also answer.
  const answers = await fetch(new URL(httpPaths.health, record.url), { signal: AbortSignal.timeout(2_000) }).then(
    (res) => res.ok,
    () => false,
  );
  if (answers) {
    throw new Error(`data dir ${dir} is in use by another Apex (pid ${record.pid}, ${record.url}); stop it first, or use another --data-dir`);
  }
}
