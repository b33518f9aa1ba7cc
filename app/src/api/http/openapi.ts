/**
 * GET /openapi.json: an OpenAPI 3.1 document generated from the route table and the zod schemas
 * (zod v4's JSON Schema output, which is the 2020-12 dialect OpenAPI 3.1 uses). Nothing here is
 * written by hand except the prose.
 */
import { z } from "zod";
import { roles, rolePermissions, type Permission } from "../../auth/permissions";
import { httpPaths } from "../../contract/services";
import { operations, type Requirement } from "../operations";
import * as s from "../schemas";
import { apiRoutes } from "./routes";

type JsonObject = Record<string, unknown>;

const componentNames = new Map<z.ZodType, string>([
  [s.createAgentBody, "CreateAgentRequest"],
  [s.submitDagBody, "SubmitDagRequest"],
  [s.decideApprovalBody, "DecideApprovalRequest"],
  [s.createApiKeyBody, "CreateApiKeyRequest"],
  [s.listApprovalsQuery, "ListApprovalsQuery"],
  [s.listDagsQuery, "ListDagsQuery"],
  [s.usageReportQuery, "UsageReportQuery"],
  [s.usageJson, "Usage"],
  [s.agentJson, "Agent"],
  [s.agentListJson, "AgentList"],
  [s.attemptJson, "Attempt"],
  [s.taskJson, "Task"],
  [s.dagJson, "Dag"],
  [s.dagStatusJson, "DagStatus"],
  [s.dagSummaryJson, "DagSummary"],
  [s.dagListJson, "DagList"],
  [s.approvalJson, "Approval"],
  [s.approvalListJson, "ApprovalList"],
  [s.apiKeyJson, "ApiKey"],
  [s.apiKeyListJson, "ApiKeyList"],
  [s.createdApiKeyJson, "CreatedApiKey"],
  [s.dagEventJson, "DagEvent"],
  [s.errorJson, "Error"],
  [s.meJson, "Me"],
  [s.usageReportJson, "UsageReport"],
  [s.ownerBudgetsBody, "OwnerBudgetsRequest"],
  [s.budgetLimitBody, "BudgetLimit"],
  [s.budgetJson, "Budget"],
  [s.budgetListJson, "BudgetList"],
  [s.dagBudgetJson, "DagBudget"],
]);

const ref = (schema: z.ZodType): JsonObject => {
  const name = componentNames.get(schema);
  if (!name) throw new Error("schema missing from the OpenAPI components table");
  return { $ref: `#/components/schemas/${name}` };
};

function componentSchemas(): JsonObject {
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of componentNames) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, io: "input" });
  for (const schema of Object.values(schemas)) {
    delete (schema as JsonObject).$schema;
    delete (schema as JsonObject).$id;
  }
  return schemas;
}

const errorResponse = (description: string): JsonObject => ({
  description,
  content: { "application/json": { schema: ref(s.errorJson) } },
});

/** 429 of the abuse limits (api/rate-limit.ts), with the header that says when to come back. */
const tooManyRequests = (description: string): JsonObject => ({
  ...errorResponse(description),
  headers: { "Retry-After": { description: "Seconds to wait before trying again.", schema: { type: "integer", minimum: 1 } } },
});

const openApiPath = (url: string): string => url.replace(/:([A-Za-z_]+)/g, "{$1}");

function rolesWith(permission: Permission): string {
  return roles.filter((r) => rolePermissions[r].has(permission)).join(", ");
}

function needs(requirement: Requirement): string {
  return requirement === "authenticated"
    ? `Needs only a valid API key (roles: ${roles.join(", ")}).`
    : `Needs permission \`${requirement}\` (roles: ${rolesWith(requirement)}).`;
}

function queryParameters(schema: z.ZodType | undefined): JsonObject[] {
  if (!schema) return [];
  const json = z.toJSONSchema(schema, { io: "input" }) as { properties?: Record<string, JsonObject>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    required: json.required?.includes(name) ?? false,
    schema: property,
  }));
}

export function buildOpenApiDocument(): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  const at = (url: string): Record<string, JsonObject> => (paths[openApiPath(url)] ??= {});

  for (const route of apiRoutes) {
    const permission = operations[route.operation].permission;
    const pathParams = [...route.url.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string", format: "uuid" },
    }));
    at(route.url)[route.method.toLowerCase()] = {
      operationId: route.operationId ?? route.operation,
      summary: route.summary,
      description: needs(permission),
      security: [{ bearerAuth: [] }],
      parameters: [...pathParams, ...queryParameters(route.query)],
      ...(route.body
        ? { requestBody: { required: route.method !== "GET" && route.operation !== "decideApproval", content: { "application/json": { schema: ref(route.body) } } } }
        : {}),
      responses: {
        [String(route.successStatus)]: { description: "OK", content: { "application/json": { schema: ref(route.response) } } },
        "400": errorResponse("Invalid request; `error.field` names the field."),
        "401": errorResponse("Missing, unknown or revoked API key."),
        ...(permission === "authenticated" ? {} : { "403": errorResponse(
          route.operation === "decideApproval"
            ? "The key's role lacks the permission, or the key submitted this DAG (another key must approve unless APEX_APPROVAL_ALLOW_SELF=true)."
            : "The key's role lacks the permission.",
        ) }),
        ...(pathParams.length > 0 ? { "404": errorResponse("No such id (or not visible to this agent key).") } : {}),
        "409": errorResponse(
          route.operation === "decideApproval"
            ? "The approval was already decided, superseded or expired, or is past its expires_at (the task then asks for a new approval)."
            : "Conflicts with the current state.",
        ),
        "429": tooManyRequests("Over the API key's or the client address's request rate."),
      },
    };
  }

  at("/v1/dags/:id/events").get = {
    operationId: "watchDag",
    summary: "Server-sent events of one DAG: a snapshot of task and DAG statuses, then live changes until the DAG finishes.",
    description: `Needs permission \`dags:read\` (roles: ${rolesWith("dags:read")}). Each event's \`event:\` is its type; \`data:\` is a DagEvent.`,
    security: [{ bearerAuth: [] }],
    parameters: [{ name: "id", in: "path", required: true, schema: { type: "string", format: "uuid" } }],
    responses: {
      "200": { description: "An event stream of DagEvent objects.", content: { "text/event-stream": { schema: ref(s.dagEventJson) } } },
      "401": errorResponse("Missing, unknown or revoked API key."),
      "404": errorResponse("No such DAG (or not visible to this agent key)."),
      "429": tooManyRequests("Over the request rate, or the key already holds its cap of open watches (APEX_API_MAX_WATCHES_PER_KEY)."),
    },
  };
  at(httpPaths.health).get = {
    operationId: "health",
    summary: "Liveness: the process serves requests.",
    security: [],
    responses: { "200": { description: "Alive" } },
  };
  at(httpPaths.ready).get = {
    operationId: "ready",
    summary: "Readiness: the store is reachable.",
    security: [],
    responses: { "200": { description: "Ready" }, "503": { description: "Not ready" } },
  };
  at(httpPaths.metrics).get = {
    operationId: "metrics",
    summary: "Prometheus metrics (text exposition format). Unauthenticated, for scraping.",
    security: [],
    responses: { "200": { description: "Metrics", content: { "text/plain": { schema: { type: "string" } } } } },
  };
  at("/openapi.json").get = {
    operationId: "openapi",
    summary: "This document.",
    security: [],
    responses: { "200": { description: "OpenAPI 3.1 document", content: { "application/json": {} } } },
  };

  return {
    openapi: "3.1.0",
    info: {
      title: "Apex API",
      version: "1.0.0",
      description:
        "Runs AI agents' DAGs of LLM and tool tasks. Authenticate with `Authorization: Bearer <key>`; " +
        "errors are `{\"error\": {\"code\", \"message\", \"field\"}}`.",
    },
    components: {
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", description: "An Apex API key (apex_...)." } },
      schemas: componentSchemas(),
    },
    security: [{ bearerAuth: [] }],
    paths,
  };
}
