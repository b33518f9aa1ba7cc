import pino from "pino";

/** The runtime's JSON logger. The telemetry module shapes its fields to the seed's log format. */
export const logger = pino({ level: process.env.LOG_LEVEL ?? "info" });
export type Logger = typeof logger;
