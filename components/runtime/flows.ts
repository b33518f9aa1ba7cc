import { services } from "../../app/src/contract";
import type { NetworkFlow } from "../platform/network-flows";

export interface RuntimeFlowsArgs {
  /** Public LLM endpoints: CIDRs and what to cut out of them. */
  readonly llmEgress: { readonly cidrs: readonly string[]; readonly except: readonly string[] };
  /** The Kubernetes API server, when the workers create sandbox Pods. */
  readonly apiServer?: { readonly cidrs: readonly string[]; readonly port: number };
  /** RDS/ElastiCache outside the namespace: no flows to in-namespace postgres/redis (their egress: components/data/access.ts). Default false. */
  readonly managedDataStores?: boolean;
}

const HTTPS = 443;

/** What apex-api and apex-worker may connect to: the data stores, the LLM providers, the API server. */
export function runtimeFlows(args: RuntimeFlowsArgs): NetworkFlow[] {
  const { api, worker, postgres, redis } = services;
  const flows: NetworkFlow[] = [];
  for (const [short, name] of [["api", api.name], ["worker", worker.name]] as const) {
    if (args.managedDataStores) continue;
    flows.push({ name: `${short}-to-postgres`, from: { service: name }, to: { service: postgres.name }, ports: [{ port: postgres.port }] });
    flows.push({ name: `${short}-to-redis`, from: { service: name }, to: { service: redis.name }, ports: [{ port: redis.port }] });
  }
  flows.push({
    name: "worker-to-llm-providers",
    from: { service: worker.name },
    to: { cidrs: args.llmEgress.cidrs, except: args.llmEgress.except },
    ports: [{ port: HTTPS }],
  });
  if (args.apiServer && args.apiServer.cidrs.length > 0) {
    flows.push({
      name: "worker-to-kube-apiserver",
      from: { service: worker.name },
      to: { cidrs: args.apiServer.cidrs },
      ports: [{ port: args.apiServer.port }],
    });
  }
  return flows;
}
