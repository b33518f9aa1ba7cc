/**
 * A parser for the Prometheus text exposition format (what /metrics returns): families with their
 * TYPE, HELP and samples, so tests can assert on names, labels and values rather than on strings.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  type?: string;
  help?: string;
  readonly samples: Sample[];
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const histogramSuffix = /_(bucket|sum|count)$/;

const unescapeLabel = (v: string) => v.replace(/\\(["\\n])/g, (_m, c: string) => (c === "n" ? "\n" : c));

export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, samples: [] }));
    return f;
  };
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2]!);
      if (meta[1] === "TYPE") f.type = meta[3];
      else f.help = meta[3]!.replace(/\\n/g, "\n").replace(/\\\\/g, "\\");
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = sampleLine.exec(line);
    if (!m) throw new Error(`exposition: cannot parse line ${JSON.stringify(line)}`);
    const [, name, rawLabels, rawValue] = m;
    const labels: Record<string, string> = {};
    for (const l of (rawLabels ?? "").matchAll(labelPair)) labels[l[1]!] = unescapeLabel(l[2]!);
    const base = families.has(name!) ? name! : name!.replace(histogramSuffix, "");
    family(families.has(base) ? base : name!).samples.push({ name: name!, labels, value: Number(rawValue) });
  }
  return families;
}

/** The value of the one sample of `name` whose labels equal `labels` exactly; undefined if none. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Readonly<Record<string, string>>): number | undefined {
  const base = families.has(name) ? name : name.replace(histogramSuffix, "");
  const want = Object.entries(labels).sort();
  const hit = families
    .get(base)
    ?.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(want));
  return hit?.value;
}
