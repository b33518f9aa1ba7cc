/**
 * Import first in a test file that checks the library instrumentations' spans. The bins install
 * them before anything requires the instrumented packages (telemetry/register.ts); vitest loads
 * packages with import(), which their require hook does not see, so they are required here once,
 * after installing: the patches land on the classes import() then returns.
 */
import { createRequire } from "node:module";
import { installInstrumentations } from "../../src/telemetry/instrumentations";

installInstrumentations();
const load = createRequire(__filename);
for (const name of ["@grpc/grpc-js", "ioredis", "pg"]) load(name);
