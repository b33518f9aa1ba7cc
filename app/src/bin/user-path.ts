/**
 * Paths on the command line of `npm start` / `npm run demo`, taken relative to the directory where
 * the user typed the command. npm runs workspace scripts with cwd=app/, so process.cwd() is not
 * that directory; npm passes it as INIT_CWD (also through the root script's nested `npm run -w app`).
 */
import path from "node:path";

/** The directory the user ran the command in: INIT_CWD under npm, else the process's cwd. */
export function userCwd(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const initCwd = env.INIT_CWD?.trim();
  return initCwd ? path.resolve(cwd, initCwd) : cwd;
}

/** `p` as an absolute path, relative ones taken from the user's directory. */
export function resolveUserPath(p: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return path.resolve(userCwd(env, cwd), p);
}

/** How to write `absolute` on a command line typed in the user's directory: relative below it, else absolute. */
export function displayUserPath(absolute: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const relative = path.relative(userCwd(env, cwd), absolute);
  if (relative === "") return ".";
  return relative.startsWith("..") || path.isAbsolute(relative) ? absolute : relative;
}
