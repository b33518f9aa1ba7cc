/**
 * The chaos run's HTTP client of Apex's API: every response's status is counted (the 5xx the
 * run reports), requests time out at 15 s (a hang is counted, not waited out), and network errors
 * (the API process gone, connection refused) are counted apart from HTTP answers.
 */

export const requestTimeoutMs = 15_000;

export interface ApiResponse {
  /** undefined: no HTTP answer (timeout, connection refused or reset). */
  readonly status?: number;
  readonly body: unknown;
  readonly ms: number;
}

export class HttpTally {
  readonly byStatus = new Map<number, number>();
  timeouts = 0;
  networkErrors = 0;
  /** Slowest answer with status 503 (the issue: within 5 s). */
  slowest503Ms = 0;
  /** First few 500 answers, for the report. */
  readonly samples500: string[] = [];

  count(status: number): number {
    return this.byStatus.get(status) ?? 0;
  }

  get other5xx(): number {
    return [...this.byStatus].filter(([s]) => s >= 500 && s !== 500 && s !== 503).reduce((n, [, c]) => n + c, 0);
  }
}

export class ChaosApi {
  constructor(
    readonly baseUrl: string,
    private readonly tally: HttpTally,
  ) {}

  async request(method: "GET" | "POST", route: string, apiKey: string | undefined, body?: unknown): Promise<ApiResponse> {
    return this.send(method, route, apiKey, body === undefined ? undefined : JSON.stringify(body));
  }

  /** `rawBody` is sent as is (JSON text with escapes such as \\u0000 or \\ud800). */
  async send(method: "GET" | "POST", route: string, apiKey: string | undefined, rawBody?: string): Promise<ApiResponse> {
    const started = Date.now();
    const headers: Record<string, string> = {};
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    if (rawBody !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.baseUrl}${route}`, { method, headers, body: rawBody, signal: AbortSignal.timeout(requestTimeoutMs) });
      text = await res.text();
    } catch (err) {
      const name = (err as Error).name;
      if (name === "TimeoutError" || name === "AbortError") this.tally.timeouts++;
      else this.tally.networkErrors++;
      return { body: undefined, ms: Date.now() - started };
    }
    const ms = Date.now() - started;
    this.tally.byStatus.set(res.status, this.tally.count(res.status) + 1);
    if (res.status === 503) this.tally.slowest503Ms = Math.max(this.tally.slowest503Ms, ms);
    if (res.status === 500 && this.tally.samples500.length < 5) this.tally.samples500.push(`${method} ${route.split("?")[0]}: ${text.slice(0, 160)}`);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (e.g. a proxy's page): kept as text
    }
    return { status: res.status, body: parsed, ms };
  }
}
