/**
 * Keeps configured query parameters (`ext_info.query`, usually an API key) out of what the model
 * sees. The upstream URL becomes the `uri` of resource blocks, and upstreams echo their request URL
 * in error bodies and in pagination links, so for tools with such parameters the answer's URL loses
 * them and every spelling of their values in the body is replaced by {@link REDACTED} before the
 * answer is mapped. Tools without them never reach this file.
 */
import type { EventStreamOutcome } from './event-stream.js';
import type { UpstreamAnswer } from './response-mapper.js';

/** A configured query parameter and the value this call sent. */
export interface SecretParameter {
  readonly name: string;
  readonly value: string;
}

/** What replaces a credential's value. */
export const REDACTED = '[redacted]';
/** Values shorter than this are not searched for in bodies: they cannot be credentials and would match anywhere. */
const MIN_SCRUBBED_LENGTH = 4;

/** The spellings a value takes in URLs and JSON: as is, percent-encoded, form-encoded, JSON-escaped. */
function spellingsOf(secrets: readonly SecretParameter[]): string[] {
  const spellings = new Set<string>();
  for (const { value } of secrets) {
    if (value.length < MIN_SCRUBBED_LENGTH) continue;
    spellings.add(value);
    spellings.add(encodeURIComponent(value));
    spellings.add(new URLSearchParams([['', value]]).toString().slice(1));
    spellings.add(JSON.stringify(value).slice(1, -1));
  }
  // Longest first, so a spelling that contains another is replaced whole.
  return [...spellings].sort((a, b) => b.length - a.length);
}

function scrubText(text: string, spellings: readonly string[]): string {
  let result = text;
  for (const spelling of spellings) if (result.includes(spelling)) result = result.split(spelling).join(REDACTED);
  return result;
}

function scrubBuffer(body: Buffer, spellings: readonly string[]): Buffer {
  let result = body;
  for (const spelling of spellings) {
    const needle = Buffer.from(spelling);
    if (result.indexOf(needle) < 0) continue;
    const pieces: Buffer[] = [];
    let from = 0;
    for (let at = result.indexOf(needle); at >= 0; at = result.indexOf(needle, from)) {
      pieces.push(result.subarray(from, at), Buffer.from(REDACTED));
      from = at + needle.length;
    }
    pieces.push(result.subarray(from));
    result = Buffer.concat(pieces);
  }
  return result;
}

/** `url` without the configured parameters (by name, and any parameter carrying one of their values). */
export function redactUrl(url: string, secrets: readonly SecretParameter[]): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (parsed.search === '') return url;
  const names = new Set(secrets.map((secret) => secret.name));
  const values = secrets.map((secret) => secret.value).filter((value) => value.length >= MIN_SCRUBBED_LENGTH);
  const kept = new URLSearchParams();
  for (const [name, value] of parsed.searchParams) {
    if (!names.has(name) && !values.some((secret) => value.includes(secret))) kept.append(name, value);
  }
  parsed.search = kept.toString();
  return scrubText(parsed.href, spellingsOf(secrets));
}

/** The answer with the configured parameters removed from its URL and their values from its body. */
export function redactAnswer(answer: UpstreamAnswer, secrets: readonly SecretParameter[]): UpstreamAnswer {
  return { ...answer, url: redactUrl(answer.url, secrets), body: scrubBuffer(answer.body, spellingsOf(secrets)) };
}

/** The event-stream outcome with the values of the configured parameters replaced. */
export function redactEventOutcome(outcome: EventStreamOutcome, secrets: readonly SecretParameter[]): EventStreamOutcome {
  const spellings = spellingsOf(secrets);
  switch (outcome.kind) {
    case 'error':
      return { kind: 'error', message: scrubText(outcome.message, spellings) };
    case 'result':
    case 'messages':
      return { kind: outcome.kind, data: scrubText(outcome.data, spellings) };
    case 'empty':
      return outcome;
  }
}
