/**
 * The worker: claims ready tasks up to its concurrency, runs them, heartbeats their leases and
 * reclaims expired ones. Idle, it sleeps until a NOTIFY says work is ready, a slot frees, the next
 * delayed retry is due or a lease expires (a slow fallback poll covers lost notifications).
 * stop(): no new claims; in-flight tasks finish within the grace period, then are released.
 */
import { randomUUID } from "node:crypto";
import os from "node:os";
import type { Span } from "@opentelemetry/api";
import type { LlmGateway } from "../llm/types";
import type { SandboxDriver } from "../sandbox/types";
import type { ToolRegistry } from "../tools/types";
import { createInProcessEventBus } from "../coord/in-process";
import type { EventBus } from "../coord/types";
import type { EngineObserver } from "../domain/engine-events";
import type { Db } from "../store/db";
import { logger } from "../telemetry/logger";
import { observeAttempt } from "../telemetry/attempt";
import { recordWorkerSlots } from "../telemetry/record";
import { supersedeAttemptSpan, withTaskAttemptSpan } from "../telemetry/attempt-spans";
import { defaultBackoff, type BackoffPolicy } from "./backoff";
import { CompletionBatcher } from "./completion-batcher";
import { engineContext, type EngineContext } from "./context";
import { channels } from "./events";
import { executeTask, type AbortReason } from "./executor";
import {
  attemptWasReclaimed,
  claimTasks,
  finishAttempts,
  heartbeat,
  markWaitingForProvider,
  nextWakeTimes,
  parkForApproval,
  reclaimExpiredLeases,
  releaseClaim,
  taskKey,
  type AttemptOutcome,
  type ClaimedTask,
  type FinishedAttempt,
  type FinishResult,
} from "./lifecycle";
import { renderDeep } from "./template";
import { argsDigest } from "./approval-digest";
import { Presence } from "./presence";

export interface WorkerDeps {
  readonly db: Db;
  /** Where DAG events go (the runtime's bus). Default: a bus of this worker's own, heard by nobody else. */
  readonly events?: EventBus;
  /** Default: telemetry. */
  readonly observer?: EngineObserver;
  readonly llm: LlmGateway;
  readonly tools: ToolRegistry;
  readonly sandbox: SandboxDriver;
}

export interface WorkerOptions {
  /** Default `<hostname>-<pid>-<random>`. */
  readonly id?: string;
  /** Tasks run at once. Default 4. */
  readonly concurrency?: number;
  /** Lease length; heartbeat every third of it. Default 30 s. */
  readonly leaseMs?: number;
  readonly backoff?: BackoffPolicy;
  /** Longest idle sleep when no notification comes. Default 5 s. */
  readonly fallbackPollMs?: number;
  /** How long an approval this worker requests may be decided and then used (APEX_APPROVAL_TTL_MS). Default 24 h. */
  readonly approvalTtlMs?: number;
  /** The budgets' clock: which hour, day and month an LLM call's reservation counts in. Default Date.now (tests move it). */
  readonly budgetClock?: () => number;
}

export const defaultApprovalTtlMs = 24 * 60 * 60_000;

interface InFlight {
  readonly task: ClaimedTask;
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

export class Worker {
  readonly id: string;
  readonly concurrency: number;
  readonly leaseMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly fallbackPollMs: number;
  private readonly inFlight = new Map<string, InFlight>();
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private wakePending = false;
  private reclaimDueAt = 0;
  private markWaitingDueAt = 0;
  private heartbeatTimer?: NodeJS.Timeout;
  /** This worker's row in `workers` (apex_workers_alive, apex_active_agents), renewed with each heartbeat. */
  private presence?: Presence;
  private unlisten: Array<() => Promise<void>> = [];
  private readonly ctx: EngineContext;
  private readonly completions: CompletionBatcher<FinishedAttempt, FinishResult>;
  /** Tools whose tasks wait for an operator's approval before an attempt starts. */
  private readonly approvalTools: readonly string[];
  private readonly approvalTtlMs: number;
  private readonly budgetClock: () => number;
  /** Called after each task's attempt ends (tests and metrics hook here). */
  onTaskFinished?: (task: ClaimedTask, result: FinishResult | "parked" | "released") => void;

  constructor(
    private readonly deps: WorkerDeps,
    options: WorkerOptions = {},
  ) {
    this.id = options.id ?? `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.concurrency = options.concurrency ?? 4;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.backoff = options.backoff ?? defaultBackoff;
    this.fallbackPollMs = options.fallbackPollMs ?? 5_000;
    this.approvalTtlMs = options.approvalTtlMs ?? defaultApprovalTtlMs;
    this.budgetClock = options.budgetClock ?? Date.now;
    this.ctx = engineContext(deps.db, deps.events ?? createInProcessEventBus(), deps.observer);
    this.completions = new CompletionBatcher((items) => finishAttempts(this.ctx, items));
    this.approvalTools = deps.tools.list().filter((t) => t.requiresApproval).map((t) => t.name);
  }

  /** Busy slots / all slots (for apex_worker_utilization). */
  get utilization(): number {
    return this.inFlight.size / this.concurrency;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.deps.db.listen) {
      this.unlisten.push(await this.deps.db.listen(channels.tasksReady, () => this.poke()));
      this.unlisten.push(await this.deps.db.listen(channels.dagCancelled, (dagId) => this.abortDag(dagId)));
    }
    this.presence = new Presence(this.deps.db, this);
    await this.presence.announce();
    this.heartbeatTimer = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.loop = this.run();
    recordWorkerSlots(0, this.concurrency);
    logger.info({ worker_id: this.id, concurrency: this.concurrency, lease_ms: this.leaseMs }, "worker started");
  }

  /**
   * Stops claiming; waits up to graceMs for in-flight tasks, then aborts the rest, which are
   * released back to ready without spending their attempt.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.poke();
    // A draining worker takes no new task: it stops counting as one that can run agents' tasks.
    const withdrawn = this.presence?.withdraw();
    await this.loop;
    const all = Promise.all([...this.inFlight.values()].map((f) => f.done));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"grace_over">((r) => (timer = setTimeout(() => r("grace_over"), graceMs)));
    if ((await Promise.race([all.then(() => "done" as const), graceOver])) === "grace_over") {
      logger.warn({ worker_id: this.id, in_flight: this.inFlight.size }, "grace period over; releasing in-flight tasks");
      for (const f of this.inFlight.values()) f.abort.abort("shutdown" satisfies AbortReason);
      await all;
    }
    clearTimeout(timer);
    clearInterval(this.heartbeatTimer);
    await withdrawn;
    for (const u of this.unlisten.splice(0)) await u().catch(() => undefined);
    logger.info({ worker_id: this.id }, "worker stopped");
  }

  private poke(): void {
    this.wakePending = true;
    this.wake?.();
  }

  private abortDag(dagId: string): void {
    for (const f of this.inFlight.values()) if (f.task.dagId === dagId) f.abort.abort("cancelled" satisfies AbortReason);
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.wakePending = false;
      try {
        if (Date.now() >= this.reclaimDueAt) {
          this.reclaimDueAt = Date.now() + this.reclaimEveryMs;
          await reclaimExpiredLeases(this.ctx);
        }
        const free = this.concurrency - this.inFlight.size;
        // LLM tasks of a provider whose breaker is open wait unclaimed: no attempt, no churn.
        const blockedProviders = free > 0 ? await this.blockedProviders() : [];
        if (blockedProviders.length > 0 && Date.now() >= this.markWaitingDueAt) {
          this.markWaitingDueAt = Date.now() + 1_000;
          await markWaitingForProvider(this.deps.db, blockedProviders);
        }
        const claimed =
          free > 0 ? await claimTasks(this.ctx, this.id, { limit: free, leaseMs: this.leaseMs, approvalTools: this.approvalTools, blockedProviders }) : [];
        // Stopped while claiming: each launched task sees its aborted signal and hands itself back.
        for (const task of claimed) this.launch(task);
        if (!this.running) break;
        // Claimed something: there may be more, go again without sleeping (a slot that frees pokes the loop).
        if (claimed.length > 0) {
          if (this.inFlight.size < this.concurrency) continue;
          await this.sleep(this.fallbackPollMs);
          continue;
        }
        await this.sleep(this.inFlight.size < this.concurrency ? await this.idleDelay() : this.fallbackPollMs);
      } catch (err) {
        logger.error({ worker_id: this.id, err: (err as Error).message }, "worker loop error; backing off");
        await this.sleep(1_000);
      }
    }
  }

  /** Providers whose breaker is open (asked of the gateway; nothing when it cannot say). */
  private async blockedProviders(): Promise<readonly string[]> {
    return (await this.deps.llm.blockedProviders?.().catch(() => [])) ?? [];
  }

  /** How often expired leases are looked for even when no lease is known to expire. */
  private get reclaimEveryMs(): number {
    return Math.min(this.leaseMs / 2, this.fallbackPollMs);
  }

  /**
   * Sleep until the next delayed task is due or the next lease may expire (then reclaim at once),
   * capped by the fallback poll. A lease expiry in the past never makes the loop spin: the reclaim
   * it triggers either frees the task or finds the lease renewed.
   */
  private async idleDelay(): Promise<number> {
    const blocked = await this.blockedProviders();
    const { nextReadyAt, nextLeaseExpiry } = await nextWakeTimes(this.deps.db, blocked);
    const now = Date.now();
    // Tasks wait for an open breaker: look again each second, so its half-open probe goes out soon after the cool-down.
    let wakeAt = now + (blocked.length > 0 ? Math.min(this.fallbackPollMs, 1_000) : this.fallbackPollMs);
    if (nextReadyAt) wakeAt = Math.min(wakeAt, nextReadyAt.getTime() + 5);
    if (nextLeaseExpiry) {
      const expiry = Math.max(nextLeaseExpiry.getTime() + 5, now + 50);
      this.reclaimDueAt = Math.min(this.reclaimDueAt, expiry);
      wakeAt = Math.min(wakeAt, expiry);
    }
    return Math.max(10, wakeAt - now);
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakePending || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private launch(task: ClaimedTask): void {
    const key = taskKey(task.dagId, task.taskId);
    // Claimed again after this worker's own stale claim was reclaimed: the stale run is superseded.
    this.inFlight.get(key)?.abort.abort("lease_lost" satisfies AbortReason);
    const abort = new AbortController();
    if (!this.running) abort.abort("shutdown" satisfies AbortReason);
    const done = this.process(task, abort.signal)
      .then((result) => this.onTaskFinished?.(task, result))
      .catch((err) => logger.error({ worker_id: this.id, dag_id: task.dagId, task_id: task.taskId, err: (err as Error).message }, "task processing error"))
      .finally(() => {
        if (this.inFlight.get(key)?.done === done) this.inFlight.delete(key);
        recordWorkerSlots(this.inFlight.size, this.concurrency);
        this.poke();
      });
    this.inFlight.set(key, { task, abort, done });
    recordWorkerSlots(this.inFlight.size, this.concurrency);
  }

  /**
   * One claimed task: approval gate, attempt, outcome. The gate: a task of an approval tool runs
   * only under an approved, unexpired approval (the claim checks both) whose digest is that of the
   * arguments rendered now; otherwise it is parked for a new approval and no attempt is spent.
   */
  private async process(task: ClaimedTask, signal: AbortSignal): Promise<FinishResult | "parked" | "released"> {
    const attempt = task.attempt;
    if (attempt === undefined) {
      if (signal.aborted) return (await releaseClaim(this.ctx, task)) ? "released" : "lease_lost";
      const tool = task.spec.kind === "tool" ? this.deps.tools.get(task.spec.tool) : undefined;
      if (!tool || task.spec.kind !== "tool") return (await releaseClaim(this.ctx, task)) ? "released" : "lease_lost";
      const args = renderDeep(task.spec.args, task.scope);
      return this.parkForNewApproval(task, tool.name, args);
    }
    if (task.spec.kind === "tool" && this.approvalTools.includes(task.spec.tool)) {
      // Arguments that do not render fail the attempt in executeTask: nothing runs, nothing to approve.
      const args = tryRender(task.spec.args, task.scope);
      if (args.ok && task.approval?.argsDigest !== argsDigest(args.value)) {
        logger.warn(
          { worker_id: this.id, dag_id: task.dagId, task_id: task.taskId, approval_id: task.approval?.id },
          "tool arguments differ from the approved ones; asking for a new approval",
        );
        return this.parkForNewApproval(task, task.spec.tool, args.value, attempt);
      }
    }
    // One task_execution span per attempt, child of the DAG's root span stored at submission; its
    // span id was stored with the attempt so a worker reclaiming it after a crash can end that span.
    const spanInfo = { dagId: task.dagId, taskId: task.taskId, agentId: task.agentId, kind: task.kind, attempt, workerId: this.id, spanId: task.spanId };
    return withTaskAttemptSpan(task.traceContext, spanInfo, async (span) => {
      const startedAt = performance.now();
      const outcome: AttemptOutcome = signal.aborted
        ? { kind: "rescheduled", reason: "worker shut down", delayMs: 0 }
        : await executeTask({ ...this.deps, backoff: this.backoff, now: this.budgetClock }, task, attempt, signal);
      const usageFields = observeAttempt(span, task.kind, outcome, performance.now() - startedAt);
      const result = await this.finishOrSupersede(span, task, attempt, outcome);
      // After the outcome is recorded: the log line is never on the way to the next task's start.
      const log = result === "failed" ? logger.warn.bind(logger) : logger.info.bind(logger);
      log(
        { worker_id: this.id, dag_id: task.dagId, task_id: task.taskId, agent_id: task.agentId, attempt, result, ...usageFields },
        outcome.kind === "succeeded" ? "Task completed" : `Task attempt ${outcome.kind}: ${"error" in outcome ? outcome.error : outcome.reason}`,
      );
      return result;
    });
  }

  private async parkForNewApproval(task: ClaimedTask, tool: string, args: unknown, unstartAttempt?: number): Promise<"parked" | "lease_lost"> {
    const call = { tool, args, argsDigest: argsDigest(args), ttlMs: this.approvalTtlMs, unstartAttempt };
    return (await parkForApproval(this.ctx, task, call)) === undefined ? "lease_lost" : "parked";
  }

  /**
   * Records the outcome. When it cannot be recorded (store unreachable: the lease will run out) or
   * another worker already reclaimed the attempt, the reclaiming worker reports this attempt under
   * the same span id, so this process withdraws its own copy of the span from export.
   */
  private async finishOrSupersede(span: Span, task: ClaimedTask, attempt: number, outcome: AttemptOutcome): Promise<FinishResult> {
    let result: FinishResult;
    try {
      result = await this.finishWithRetry(task, attempt, outcome);
    } catch (err) {
      supersedeAttemptSpan(span);
      throw err;
    }
    if (result === "lease_lost" && (await attemptWasReclaimed(this.ctx.db, task, attempt).catch(() => false))) {
      supersedeAttemptSpan(span);
    }
    return result;
  }

  /**
   * Records the outcome (batched with other attempts finishing now), retrying a few times through a
   * transient store error. Safe to repeat: recording is one fenced transaction, so a retry after a
   * lost COMMIT reply sees lease_lost.
   * If it still fails, the lease runs out and another worker reclaims the task.
   */
  private async finishWithRetry(task: ClaimedTask, attempt: number, outcome: AttemptOutcome): Promise<FinishResult> {
    for (let i = 1; ; i++) {
      try {
        return await this.completions.submit({ task, attempt, outcome });
      } catch (err) {
        if (i >= 3) throw err;
        logger.warn({ worker_id: this.id, dag_id: task.dagId, task_id: task.taskId, err: (err as Error).message }, "recording the attempt failed; retrying");
        await new Promise((r) => setTimeout(r, 250 * i));
      }
    }
  }

  /** Task leases first, then presence: one connection at a time, as before presence existed (the pool counts one for heartbeats). */
  private async beat(): Promise<void> {
    await this.renewLeases();
    await this.presence?.announce();
  }

  private async renewLeases(): Promise<void> {
    if (this.inFlight.size === 0) return;
    // Judge only the tasks this renewal was about: one claimed while it ran is not in its answer.
    const sent = [...this.inFlight.entries()];
    try {
      const held = await heartbeat(this.deps.db, this.id, this.leaseMs, sent.map(([, f]) => f.task));
      for (const [key, f] of sent) {
        if (!held.has(key) && this.inFlight.get(key) === f) f.abort.abort("lease_lost" satisfies AbortReason);
      }
    } catch (err) {
      logger.warn({ worker_id: this.id, err: (err as Error).message }, "heartbeat failed");
    }
  }

}

function tryRender(args: unknown, scope: ClaimedTask["scope"]): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: renderDeep(args, scope) };
  } catch {
    return { ok: false };
  }
}
