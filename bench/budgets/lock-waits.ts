/**
 * How many of the bench's Postgres connections wait on a lock, sampled every 20 ms from
 * pg_stat_activity on a connection of its own while a run's calls are made: with every caller
 * contending on one agent window, the callers queue on its row lock and the average shows it.
 */
import { Client } from "pg";

const sampleEveryMs = 20;

export interface LockWaitSampler {
  /** Stops sampling; the average number of connections waiting on a lock (heavyweight: row or transaction id). */
  stop(): Promise<number>;
}

export async function sampleLockWaits(databaseUrl: string): Promise<LockWaitSampler> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const samples: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const r = await client.query<{ n: number }>(
        `SELECT count(*)::integer AS n FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'`,
      );
      samples.push(r.rows[0]!.n);
      await new Promise((resolve) => setTimeout(resolve, sampleEveryMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await client.end();
      return samples.length === 0 ? 0 : samples.reduce((a, x) => a + x, 0) / samples.length;
    },
  };
}
