/**
 * Promtail config (Docker target) that ships the stack's container logs to Loki with a `service_name` label, and
 * parse the runtime's JSON lines (pino) so `trace_id`, `level` etc. are queryable:
 * `{service_name="apex-worker"} | json | trace_id="<id>"`. trace_id stays out of the index
 * (unbounded cardinality); Loki filters it at query time.
 */
import { stringify } from "yaml";

const pipeline = [
  { json: { expressions: { level: "level", trace_id: "trace_id" } } },
  // Only the log level becomes a label; it has a handful of values.
  { labels: { level: "" } },
];

export const promtailHttpPort = 9080;

/** Docker (dev): containers found through the engine socket, filtered to this stack's label. */
export function promtailDockerConfigYaml(args: { readonly lokiPushUrl: string; readonly stackInstance: string }): string {
  return stringify({
    server: { http_listen_port: promtailHttpPort, grpc_listen_port: 0 },
    positions: { filename: "/tmp/positions.yaml" },
    clients: [{ url: args.lokiPushUrl }],
    scrape_configs: [
      {
        job_name: "docker",
        docker_sd_configs: [{ host: "unix:///var/run/docker.sock", refresh_interval: "10s" }],
        relabel_configs: [
          { source_labels: ["__meta_docker_container_label_app_kubernetes_io_instance"], regex: args.stackInstance, action: "keep" },
          { source_labels: ["__meta_docker_container_label_app_kubernetes_io_name"], target_label: "service_name" },
          { source_labels: ["__meta_docker_container_name"], regex: "/(.*)", target_label: "container" },
        ],
        pipeline_stages: pipeline,
      },
    ],
  }, { lineWidth: 0 });
}
