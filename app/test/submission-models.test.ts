/**
 * Submission refuses what cannot run: an LLM task naming a model this runtime cannot call is a
 * 400 (gRPC INVALID_ARGUMENT) naming `tasks[i].model` and what is configured, decided from the
 * API's own environment the way workers build their gateway. Nothing is written and no provider
 * is called at submission. HTTP and gRPC, on PGlite and Postgres, with the real service.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpServer } from "../src/api/http/server";
import { runtimeEnv } from "../src/contract/env";
import { createInProcessCoordination } from "../src/coord";
import { createLlmGateway, llmProvidersFromEnv, localModels, modelCheckFromEnv } from "../src/llm";
import { validateDagSubmission } from "../src/service/validate-dag";
import { createToolRegistry } from "../src/tools/registry";
import { createApiFixture, type ApiFixture } from "./api-support/fixture";
import { connectGrpc, type GrpcTestClient } from "./api-support/grpc-client";
import { startFakeLlmServer, type FakeLlmServer } from "./fakes/fake-llm-server";
import { storeKinds } from "./helpers/db";

const noKeys = modelCheckFromEnv({});
const openaiOnly = modelCheckFromEnv({ [runtimeEnv.openaiApiKey]: "sk-test", [runtimeEnv.openaiBaseUrl]: "http://127.0.0.1:9/v1" });

describe("the model check from the environment", () => {
  it("names the enabled providers, the local models and the variable that enables a provider", () => {
    expect(noKeys.checkModel("local/echo")).toBeUndefined();
    expect(noKeys.checkModel("local/gpt-9")).toBe(
      `provider "local" has no model "gpt-9" (known: ${localModels.join(", ")}); enabled providers: local`,
    );
    expect(noKeys.checkModel("openai/gpt-4o")).toBe(`provider "openai" is not configured (set ${runtimeEnv.openaiApiKey}); enabled providers: local`);
    expect(openaiOnly.checkModel("anthropic/claude-sonnet-4-5")).toBe(
      `provider "anthropic" is not configured (set ${runtimeEnv.anthropicApiKey}); enabled providers: openai, local`,
    );
  });

  it("accepts every model the price table prices, also under dated and -latest names", () => {
    for (const model of ["openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-4o-2024-08-06", "openai/o3"]) {
      expect(openaiOnly.checkModel(model), model).toBeUndefined();
    }
    const anthropic = modelCheckFromEnv({ [runtimeEnv.anthropicApiKey]: "sk-ant-test" });
    for (const model of ["anthropic/claude-sonnet-4-5", "anthropic/claude-3-5-haiku-latest", "anthropic/claude-sonnet-4-20250514", "anthropic/claude-opus-4-0"]) {
      expect(anthropic.checkModel(model), model).toBeUndefined();
    }
  });

  it("refuses a model the price table does not price, listing the priced ones of its provider", () => {
    const why = openaiOnly.checkModel("openai/gpt-9");
    expect(why).toMatch(/^model "openai\/gpt-9" has no price in price table \S+, and a call that cannot be metered is refused/);
    expect(why).toContain("priced openai models: gpt-4o, gpt-4o-mini,");
    expect(why).not.toContain("claude");
    // no prefix match: a variant of a priced model is not that model
    expect(openaiOnly.checkModel("openai/gpt-4o-mini-audio")).toMatch(/no price in price table/);
  });

  it("agrees with the gateway a worker builds from the same environment", () => {
    const coordination = createInProcessCoordination();
    const envs = [{}, { [runtimeEnv.openaiApiKey]: "sk-1" }, { [runtimeEnv.anthropicApiKey]: "sk-2" }, { [runtimeEnv.openaiApiKey]: "sk-1", [runtimeEnv.anthropicApiKey]: "sk-2" }];
    const models = ["local/echo", "local/summarize", "local/gpt-9", "openai/gpt-4o", "openai/gpt-9", "anthropic/claude-haiku-4-5", "anthropic/claude-9", "mistral/large"];
    for (const env of envs) {
      const gateway = createLlmGateway({ coordination, ...llmProvidersFromEnv(env) });
      const check = modelCheckFromEnv(env);
      for (const model of models) expect(check.checkModel(model), `${model} with ${Object.keys(env).join(", ")}`).toBe(gateway.checkModel(model));
    }
  });

  it("examples/research.json passes with no provider key configured", () => {
    const example = JSON.parse(readFileSync(path.resolve(__dirname, "../../examples/research.json"), "utf8")) as Record<string, unknown>;
    const body = { ...example, agent_id: "8d6f3c5e-9a43-4b4e-8f3c-1c2d3e4f5a6b" };
    expect(() => validateDagSubmission(body, createToolRegistry(), noKeys)).not.toThrow();
  });
});

describe.each(storeKinds)("POST /v1/dags on %s", (kind) => {
  let fake: FakeLlmServer;
  let bare: ApiFixture;
  let keyed: ApiFixture;
  let bareHttp: FastifyInstance;
  let keyedHttp: FastifyInstance;
  let grpc: GrpcTestClient;

  beforeAll(async () => {
    fake = await startFakeLlmServer({ apiKey: "sk-submission-test" });
    const keyedEnv = { [runtimeEnv.openaiApiKey]: "sk-submission-test", [runtimeEnv.openaiBaseUrl]: fake.openaiBaseUrl };
    [bare, keyed] = await Promise.all([
      createApiFixture({ store: kind, models: modelCheckFromEnv({}) }),
      createApiFixture({ store: kind, models: modelCheckFromEnv(keyedEnv) }),
    ]);
    bareHttp = buildHttpServer(bare.deps);
    keyedHttp = buildHttpServer(keyed.deps);
    grpc = await connectGrpc(bare);
  });

  afterAll(async () => {
    await grpc?.close();
    await bareHttp?.close();
    await keyedHttp?.close();
    await Promise.all([bare?.close(), keyed?.close()]);
    await fake?.close();
  });

  const body = (fx: ApiFixture, model: string) => ({
    agent_id: fx.agentA.id,
    name: "models",
    tasks: [
      { id: "plan", kind: "llm", model: "local/echo", prompt: "plan" },
      { id: "write", kind: "llm", model, prompt: "write {{tasks.plan.output}}", depends_on: ["plan"] },
    ],
  });
  const dagCount = async (fx: ApiFixture) => (await fx.store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM dags")).rows[0]!.n;
  const submit = (app: FastifyInstance, fx: ApiFixture, model: string) =>
    app.inject({ method: "POST", url: "/v1/dags", headers: { authorization: `Bearer ${fx.tokens.admin}` }, payload: body(fx, model) });
  const errorOf = (res: { body: string }) => (JSON.parse(res.body) as { error: { code: string; message: string; field?: string } }).error;

  it("an unknown local model is a 400 naming tasks[1].model and the local models; nothing is written", async () => {
    const before = await dagCount(bare);
    const res = await submit(bareHttp, bare, "local/gpt-9");
    expect(res.statusCode).toBe(400);
    expect(errorOf(res)).toEqual({
      code: "invalid_argument",
      field: "tasks[1].model",
      message: `tasks[1].model: provider "local" has no model "gpt-9" (known: ${localModels.join(", ")}); enabled providers: local`,
    });
    expect(await dagCount(bare)).toBe(before);
  });

  it("openai/gpt-4o without an OpenAI key is a 400 naming the variable that enables it", async () => {
    const res = await submit(bareHttp, bare, "openai/gpt-4o");
    expect(res.statusCode).toBe(400);
    expect(errorOf(res)).toMatchObject({
      field: "tasks[1].model",
      message: `tasks[1].model: provider "openai" is not configured (set ${runtimeEnv.openaiApiKey}); enabled providers: local`,
    });
  });

  it("an OpenAI model the price table does not price is a 400 even with a key", async () => {
    const res = await submit(keyedHttp, keyed, "openai/gpt-9");
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).field).toBe("tasks[1].model");
    expect(errorOf(res).message).toMatch(/no price in price table .*priced openai models: gpt-4o,/);
  });

  it("gRPC refuses with INVALID_ARGUMENT and the same message", async () => {
    for (const model of ["local/gpt-9", "openai/gpt-4o"]) {
      const http = errorOf(await submit(bareHttp, bare, model));
      const { tasks, ...rest } = body(bare, model);
      const result = await grpc.unary("SubmitDag", { ...rest, tasks }, grpc.metadataFor("admin"));
      expect(result.error?.code).toBe(status.INVALID_ARGUMENT);
      expect(result.error?.details).toBe(http.message);
      expect(result.error?.metadata.get("apex-error-field")).toEqual(["tasks[1].model"]);
    }
  });

  it("openai/gpt-4o with a key configured is accepted, and no provider is called at submission", async () => {
    const res = await submit(keyedHttp, keyed, "openai/gpt-4o");
    expect(res.statusCode, res.body).toBe(201);
    expect(JSON.parse(res.body)).toMatchObject({ status: "running" });
    expect(fake.requests).toHaveLength(0);
  });
});
