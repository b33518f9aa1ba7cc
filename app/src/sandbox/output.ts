/** Default cap on each of stdout and stderr kept from one sandbox run. */
export const defaultMaxOutputBytes = 1024 * 1024;

/**
 * Collects a stream's bytes up to a cap and drops the rest, so a program that prints forever
 * cannot exhaust the worker's memory. Decoding happens once at the end (no split UTF-8 sequences).
 */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    const room = this.maxBytes - this.size;
    if (room <= 0) {
      if (chunk.length > 0) this.truncated = true;
      return;
    }
    if (chunk.length > room) {
      this.chunks.push(chunk.subarray(0, room));
      this.size += room;
      this.truncated = true;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/** Ensures the request is well formed before any driver touches it. */
export function assertValidRequest(req: { argv: readonly string[]; timeoutMs: number }): void {
  if (req.argv.length === 0 || req.argv[0] === "") {
    throw new TypeError("sandbox request: argv must name a program (argv[0] is empty)");
  }
  if (!Number.isFinite(req.timeoutMs) || req.timeoutMs <= 0) {
    throw new TypeError(`sandbox request: timeoutMs must be a positive number, got ${req.timeoutMs}`);
  }
  for (const a of req.argv) {
    if (a.includes("\0")) throw new TypeError("sandbox request: argv entries must not contain NUL bytes");
  }
}
