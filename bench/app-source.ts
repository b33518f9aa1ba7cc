/** Which Apex a bench measured: the commit of `appDir`'s checkout, and whether its source had uncommitted changes. */
import { execFileSync } from "node:child_process";

export function appSourceDescription(appDir: string): string {
  const git = (...args: string[]) => execFileSync("git", ["-C", appDir, ...args], { encoding: "utf8" }).trim();
  try {
    const dirty = git("status", "--porcelain", "--", "src", "migrations") !== "";
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? " + uncommitted changes in app/src or app/migrations" : ""}`;
  } catch {
    return "unknown (not a git checkout)";
  }
}
