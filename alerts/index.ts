/** Apex alerting rules as code: the rules, their renderer and their promtool unit tests. */
export * from "./types";
export * from "./rules";
export * from "./render";
export * from "./tests/promtool";
