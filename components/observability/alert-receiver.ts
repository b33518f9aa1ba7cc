/**
 * alert-receiver: the dev stack's default alert destination (`apex:observability.alerting.devReceiver`).
 * The runtime image's app/src/bin/alert-receiver.ts, which logs every alert Alertmanager notifies
 * as one JSON line; Alertmanager sends critical and warning alerts to it besides the configured
 * receivers.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { ServiceSpec } from "../service";

export const alertReceiver = { name: "alert-receiver", port: 9095, path: "/alerts", healthPath: "/healthz", portEnv: "APEX_ALERT_RECEIVER_PORT" } as const;

/** The webhook URL Alertmanager posts to (same network / namespace). */
export const alertReceiverUrl = `http://${alertReceiver.name}:${alertReceiver.port}${alertReceiver.path}`;

export function alertReceiverSpec(args: { readonly image: pulumi.Input<string> }): ServiceSpec {
  const r = alertReceiver;
  return {
    name: r.name,
    component: "alerting",
    image: args.image,
    command: ["node", "dist/bin/alert-receiver.js"],
    ports: [{ name: "http", port: r.port, appProtocol: "http" }],
    env: { [r.portEnv]: String(r.port), NODE_OPTIONS: "--max-old-space-size=48" },
    resources: { requests: { cpu: "10m", memory: "48Mi" }, limits: { cpu: "100m", memory: "96Mi" } },
    probes: {
      readiness: { http: { path: r.healthPath, port: r.port } },
      liveness: { http: { path: r.healthPath, port: r.port }, initialDelaySeconds: 10 },
    },
    // The image's HEALTHCHECK probes the API/worker ports; this process serves its own.
    dockerHealthcheck: ["CMD", "node", "-e", `fetch("http://127.0.0.1:${r.port}${r.healthPath}").then((x) => process.exit(x.ok ? 0 : 1), () => process.exit(1))`],
    scaling: { replicas: 1 },
  };
}
