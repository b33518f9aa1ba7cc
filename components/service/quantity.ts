/** Conversions from Kubernetes quantities (the model's unit) to what the Docker engine takes. */

const binary: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

export function memoryBytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)$/.exec(quantity);
  const unit = m?.[2];
  if (!m || unit === undefined) throw new Error(`memory quantity: expected e.g. "512Mi" or "2Gi", got "${quantity}"`);
  return Number(m[1]) * (binary[unit] ?? 1);
}

/** Docker `memory`/`memoryReservation` are in MB (MiB). */
export const memoryMiB = (quantity: string): number => Math.ceil(memoryBytes(quantity) / 1024 ** 2);

/** Docker tmpfs `size=` option in bytes. */
export const tmpfsSize = (quantity: string): string => `size=${memoryBytes(quantity)}`;

/** Docker `cpus` ("0.5") from "500m" or "2". */
export function dockerCpus(quantity: string): string {
  const milli = /^(\d+)m$/.exec(quantity);
  if (milli) return String(Number(milli[1]) / 1000);
  if (/^\d+(\.\d+)?$/.test(quantity)) return quantity;
  throw new Error(`CPU quantity: expected e.g. "500m" or "2", got "${quantity}"`);
}
