/**
 * Gathers finished attempts into one store call: what arrives while a call is in flight (or in the
 * same turn of the event loop) goes in the next one, so a busy worker records many attempts per
 * round trip and an idle one waits for nobody. A failed batch is retried item by item, so one bad
 * outcome (say, output the store refuses) fails only its own caller.
 */
interface Pending<I, R> {
  readonly item: I;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export class CompletionBatcher<I, R> {
  private queue: Pending<I, R>[] = [];
  private draining = false;

  constructor(
    private readonly record: (items: readonly I[]) => Promise<R[]>,
    private readonly maxBatch = 256,
  ) {}

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const results = await this.record(batch.map((p) => p.item));
          batch.forEach((p, i) => p.resolve(results[i]!));
        } catch (err) {
          if (batch.length === 1) batch[0]!.reject(err);
          else await Promise.all(batch.map((p) => this.record([p.item]).then(([r]) => p.resolve(r!), p.reject)));
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
