import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { TEST_KEY } from './test-gateway.js';

/** A parsed `/metrics` answer. */
export interface Scrape {
  /** The families as the exposition declares them (name → `# TYPE`, upper case). */
  types: Map<string, string>;
  /** Every sample, histogram series included (`<name>_bucket`, `_sum`, `_count`), with its labels. */
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
  /** The value of the one sample of `name` whose labels include `labels`; `undefined` when none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Samples of any family that carry `label` = `value`. */
  withLabel(label: string, value: string): Array<{ name: string; labels: Record<string, string> }>;
}

/**
 * Parses the Prometheus text format with parse-prometheus-text-format. That parser merges every
 * series of a histogram family into one sample without labels, so the histograms are parsed a
 * second time with their `# TYPE` lines left out: their `_bucket`, `_sum` and `_count` series
 * then read as families of their own, each with its labels.
 */
export function parseMetrics(text: string): Scrape {
  const typed = parsePrometheusTextFormat(text);
  const types = new Map(typed.map((family) => [family.name, family.type]));
  const histograms = new Set(typed.filter((family) => family.type === 'HISTOGRAM').map((family) => family.name));
  const untypedHistograms = text
    .split('\n')
    .filter((line) => {
      const [hash, kind, name] = line.split(' ');
      return !(hash === '#' && kind === 'TYPE' && name !== undefined && histograms.has(name));
    })
    .join('\n');
  const samples: Scrape['samples'] = [];
  const add = (family: ParsedFamily) => {
    for (const sample of family.metrics) {
      samples.push({ name: family.name, labels: sample.labels ?? {}, value: Number(sample.value) });
    }
  };
  for (const family of typed) if (family.type !== 'HISTOGRAM') add(family);
  for (const family of parsePrometheusTextFormat(untypedHistograms)) if (family.type === 'UNTYPED') add(family);
  const matches = (labels: Record<string, string>, wanted: Record<string, string>) =>
    Object.entries(wanted).every(([key, value]) => labels[key] === value);
  return {
    types,
    samples,
    value(name, labels = {}) {
      const found = samples.filter((sample) => sample.name === name && matches(sample.labels, labels));
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
    withLabel: (label, value) => samples.filter((sample) => sample.labels[label] === value),
  };
}

/** GETs `url` (a gateway's `/metrics`), with the test admin key unless `auth` is false. */
export async function scrape(url: string, auth = true): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(url, { headers: auth ? { authorization: `Bearer ${TEST_KEY}` } : {} });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}
