// The package ships no types; this is the shape its parser returns (prom2json's).
declare module 'parse-prometheus-text-format' {
  /** One sample of a family; histograms and summaries come flattened into `buckets`/`quantiles`. */
  interface ParsedSample {
    labels?: Record<string, string>;
    value?: string;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  /** One metric family: `# HELP`, `# TYPE` (upper case), and its samples. */
  interface ParsedFamily {
    name: string;
    help: string;
    type: string;
    metrics: ParsedSample[];
  }
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
