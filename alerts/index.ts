/** Apex alerting rules as code: the rules, their renderer and their promtool unit tests. */
export * from "./types";
export * from "./sources";
export * from "./rules";
export * from "./kubernetes-rules";
export * from "./runbook-url";
export * from "./render";
export * from "./tests/promtool";
