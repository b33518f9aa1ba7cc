#!/usr/bin/env node
/**
 * alert-receiver: the dev stack's default Alertmanager receiver. Alertmanager POSTs each
 * notification (webhook payload version 4) to /alerts; every alert in it becomes one JSON log line
 * ("Alert firing" / "Alert resolved") with its name, severity, labels, summary and runbook link, so
 * `docker logs` (and Loki) show what would have paged. GET /healthz answers 200.
 * Port: APEX_ALERT_RECEIVER_PORT (default 9095).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, type Logger } from "../telemetry/logger";
import { onShutdownSignal } from "./signals";

export const alertReceiverPortEnv = "APEX_ALERT_RECEIVER_PORT";
export const alertReceiverDefaults = { port: 9095, path: "/alerts", healthPath: "/healthz" } as const;
/** A notification carries at most a group's alerts; Alertmanager's default max is far below this. */
const maxBodyBytes = 1024 * 1024;

/** One alert of Alertmanager's webhook payload (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
interface WebhookAlert {
  readonly status: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt?: string;
  readonly endsAt?: string;
  readonly generatorURL?: string;
  readonly fingerprint?: string;
}

interface WebhookPayload {
  readonly version: string;
  readonly status: string;
  readonly receiver: string;
  readonly groupKey?: string;
  readonly truncatedAlerts?: number;
  readonly alerts: readonly WebhookAlert[];
}

const isStringMap = (v: unknown): v is Record<string, string> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");

/** The payload, or the first thing wrong with it (naming the field). */
export function parsePayload(body: unknown): WebhookPayload | string {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "expected a JSON object (Alertmanager's webhook payload)";
  const b = body as Record<string, unknown>;
  if (b.version !== "4") return `version: expected "4", got ${JSON.stringify(b.version)}`;
  for (const field of ["status", "receiver"] as const) {
    if (typeof b[field] !== "string") return `${field}: expected a string, got ${JSON.stringify(b[field])}`;
  }
  if (!Array.isArray(b.alerts)) return `alerts: expected a list, got ${JSON.stringify(b.alerts)}`;
  for (const [i, a] of (b.alerts as unknown[]).entries()) {
    const alert = a as Record<string, unknown> | null;
    if (typeof alert !== "object" || alert === null) return `alerts[${i}]: expected an object`;
    if (typeof alert.status !== "string") return `alerts[${i}].status: expected a string, got ${JSON.stringify(alert.status)}`;
    if (!isStringMap(alert.labels)) return `alerts[${i}].labels: expected a map of strings`;
    if (!isStringMap(alert.annotations)) return `alerts[${i}].annotations: expected a map of strings`;
  }
  return body as WebhookPayload;
}

function logAlerts(log: Logger, payload: WebhookPayload): void {
  for (const a of payload.alerts) {
    const line = {
      alertname: a.labels.alertname,
      severity: a.labels.severity,
      status: a.status,
      receiver: payload.receiver,
      summary: a.annotations.summary,
      description: a.annotations.description,
      runbook_url: a.annotations.runbook_url,
      labels: a.labels,
      starts_at: a.startsAt,
      ends_at: a.endsAt,
      fingerprint: a.fingerprint,
      generator_url: a.generatorURL,
      group_key: payload.groupKey,
    };
    if (a.status === "firing") log.warn(line, "Alert firing");
    else log.info(line, "Alert resolved");
  }
  if (payload.truncatedAlerts) log.warn({ receiver: payload.receiver, truncated_alerts: payload.truncatedAlerts, group_key: payload.groupKey }, "Alerts truncated by Alertmanager");
}

export interface AlertReceiver {
  readonly port: number;
  close(): Promise<void>;
}

export interface AlertReceiverOptions {
  /** 0 picks a free port. Default APEX_ALERT_RECEIVER_PORT, else 9095. */
  readonly port?: number;
  /** Default "0.0.0.0". */
  readonly host?: string;
  /** Default: a JSON logger on stdout with service "alert-receiver". */
  readonly logger?: Logger;
}

function portFromEnv(): number {
  const raw = process.env[alertReceiverPortEnv];
  if (raw === undefined || raw === "") return alertReceiverDefaults.port;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${alertReceiverPortEnv}: expected a port between 1 and 65535, got "${raw}"`);
  return port;
}

export async function startAlertReceiver(options: AlertReceiverOptions = {}): Promise<AlertReceiver> {
  const log = options.logger ?? createLogger({ service: "alert-receiver" });
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const reply = (status: number, body: Record<string, unknown>) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (path === alertReceiverDefaults.healthPath && req.method === "GET") return reply(200, { status: "ok" });
    if (path !== alertReceiverDefaults.path) return reply(404, { error: `not found: ${path} (Alertmanager posts to ${alertReceiverDefaults.path})` });
    if (req.method !== "POST") return res.writeHead(405, { allow: "POST" }).end();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reply(413, { error: `body over ${maxBodyBytes} bytes` });
        req.destroy();
      } else {
        chunks.push(chunk);
      }
    });
    req.on("end", () => {
      if (size > maxBodyBytes) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return reply(400, { error: "expected a JSON body" });
      }
      const payload = parsePayload(body);
      if (typeof payload === "string") {
        log.warn({ error: payload }, "Refused an alert notification");
        return reply(400, { error: payload });
      }
      logAlerts(log, payload);
      reply(200, { received: payload.alerts.length });
    });
  });
  const port = options.port ?? portFromEnv();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, options.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ port: bound, path: alertReceiverDefaults.path }, "alert-receiver listening");
  return {
    port: bound,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

if (require.main === module) {
  startAlertReceiver().then(
    (receiver) => onShutdownSignal(() => receiver.close()),
    (err: Error) => {
      createLogger({ service: "alert-receiver" }).fatal({ err: err.message }, "alert-receiver failed to start");
      process.exit(1);
    },
  );
}
