/**
 * Where `npm start` / `npm run demo` take paths from: --data-dir and --file relative to the
 * directory the user typed the command in (INIT_CWD under npm).
 */
import { describe, expect, it } from "vitest";
import { displayUserPath, resolveUserPath, userCwd } from "../src/bin/user-path";

describe("paths relative to where the user typed the command", () => {
  it("uses INIT_CWD (npm sets it; the workspace script runs in app/) over the process's cwd", () => {
    expect(userCwd({ INIT_CWD: "/home/u/apex" }, "/home/u/apex/app")).toBe("/home/u/apex");
    expect(resolveUserPath("mydata", { INIT_CWD: "/home/u/apex" }, "/home/u/apex/app")).toBe("/home/u/apex/mydata");
    expect(resolveUserPath("../x.json", { INIT_CWD: "/home/u/apex/examples" }, "/home/u/apex/app")).toBe("/home/u/apex/x.json");
  });

  it("falls back to the process's cwd without INIT_CWD (tsx src/bin/apex-local.ts run by hand)", () => {
    expect(resolveUserPath("mydata", {}, "/home/u/apex/app")).toBe("/home/u/apex/app/mydata");
    expect(resolveUserPath("mydata", { INIT_CWD: "  " }, "/srv")).toBe("/srv/mydata");
  });

  it("keeps absolute paths", () => {
    expect(resolveUserPath("/var/apex", { INIT_CWD: "/home/u/apex" }, "/home/u/apex/app")).toBe("/var/apex");
  });

  it("writes a path back relative to the user's directory when below it, else absolute", () => {
    const env = { INIT_CWD: "/home/u/apex" };
    expect(displayUserPath("/home/u/apex/mydata", env, "/x")).toBe("mydata");
    expect(displayUserPath("/home/u/apex", env, "/x")).toBe(".");
    expect(displayUserPath("/var/apex", env, "/x")).toBe("/var/apex");
    expect(displayUserPath("/home/u/other", env, "/x")).toBe("/home/u/other");
  });
});
