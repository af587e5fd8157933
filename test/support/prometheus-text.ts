/**
 * Reads Prometheus' text exposition format (version 0.0.4) the way a scraper does: `# TYPE`
 * lines, then one sample per line, `name{label="value",…} number`, with `\\`, `\"` and `\n`
 * escaped in label values. Throws on a line it cannot read, so a malformed exposition fails.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** `# TYPE` of each metric family. */
  readonly types: ReadonlyMap<string, string>;
  /** Samples named `name` whose labels include `labels`. */
  find(name: string, labels?: Record<string, string>): Sample[];
  /** The one sample named `name` with these labels (undefined if none). */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types.set(type[1]!, type[2]!);
      else if (!line.startsWith('# HELP ')) throw new Error(`not an exposition line: ${line}`);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const label = LABEL.exec(body);
      if (!label) throw new Error(`unreadable labels in: ${line}`);
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const text = match[3]!;
    const value = text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : /^nan$/i.test(text) ? NaN : Number(text);
    if (Number.isNaN(value) && !/^nan$/i.test(text)) throw new Error(`not a number in: ${line}`);
    samples.push({ name: match[1]!, labels, value });
  }
  const find = (name: string, wanted: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(wanted).every(([k, v]) => s.labels[k] === v));
  return {
    samples,
    types,
    find,
    value: (name, wanted) => {
      const found = find(name, wanted);
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(wanted)}`);
      return found[0]?.value;
    },
  };
}

/** GETs `url` and returns the status, content type and body. */
export async function httpGet(url: string): Promise<{ status: number; contentType: string; body: string }> {
  const response = await fetch(url);
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: await response.text() };
}
