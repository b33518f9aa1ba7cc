/**
 * Preloaded (`--import`) into every process the engine bench measures: counts database round
 * trips by wrapping node-postgres' Client.prototype.query, through which every statement passes
 * (Pool.query included; BEGIN and COMMIT are calls of their own). The bench reads the counter
 * over IPC (method `pg-count`) before and after each workload.
 */
import { Client } from "pg";
import { serveIpc } from "./ipc";

let queries = 0;

const original = Client.prototype.query;
Client.prototype.query = function countedQuery(this: Client, ...args: unknown[]) {
  queries++;
  return (original as (...a: unknown[]) => unknown).apply(this, args);
} as typeof original;

serveIpc("pg-count", () => ({ queries }));
