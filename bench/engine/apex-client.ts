/** The two calls of Apex's HTTP API the bench makes, typed by the API's own zod schemas (app/src/api/schemas.ts). */
import type { z } from "zod";
import { agentJson, dagStatusJson, type AgentJson, type DagStatusJson, type createAgentBody, type submitDagBody } from "../../app/src/api/schemas";

export type DagSubmission = z.input<typeof submitDagBody>;
type AgentCreation = z.input<typeof createAgentBody>;

export class ApexClient {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  async createAgent(body: AgentCreation): Promise<AgentJson> {
    return agentJson.parse(await this.post("/v1/agents", body));
  }

  async submitDag(body: DagSubmission): Promise<DagStatusJson> {
    return dagStatusJson.parse(await this.post("/v1/dags", body));
  }

  private async post(route: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${route}`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`POST ${route}: HTTP ${res.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text) as unknown;
  }
}
