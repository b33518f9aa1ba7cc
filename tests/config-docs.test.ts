import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { coreSections } from "../config/core";
import { configSections } from "../config/sections";

const docs = path.join(__dirname, "..", "docs");
const read = (file: string) => fs.readFileSync(path.join(docs, file), "utf8");

describe("config reference", () => {
  it("docs/configuration.md documents every foundation key", () => {
    const text = read("configuration.md");
    const missing = Object.keys(coreSections).filter((key) => !text.includes(`\`apex:${key}`));
    expect(missing).toEqual([]);
  });

  it("every registered key is documented somewhere under docs/", () => {
    const all = fs.readdirSync(docs).filter((f) => f.endsWith(".md")).map(read).join("\n");
    // Area docs may name a key in a table of their own keys, without the namespace.
    const missing = Object.keys(configSections).filter((key) => !all.includes(`apex:${key}`) && !all.includes(`\`${key}\``));
    expect(missing).toEqual([]);
  });
});
