import type { Command } from 'commander';
import { CliError, isCliError } from '../cli-error.js';
import { contextOf, type CliIo, type CommandContext } from '../context.js';
import type { Output } from '../output.js';

/** `GET /admin/log-level`'s data, also the answer of a write (docs/admin-api.md#log-level-override). */
interface LogLevelState {
  /** What the replica that answered logs at now. */
  level: string;
  /** Its `log.level`, where it returns when the override ends. */
  configured: string;
  override: { level: string; expires_at: string; set_by?: string; revision: number } | null;
}

const ROUTE = '/admin/log-level';
/** The levels an override may set: `silent` is for the gateway's configuration only, so no override hides errors. */
const LEVELS = ['error', 'warn', 'info', 'debug'] as const;
const RESET = 'reset';
/** The gateway's bounds for `duration_seconds`; without `--for` it applies its own default, 15 minutes. */
const MAX_SECONDS = 86_400;
const UNITS = [
  ['d', 86_400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
] as const;
const DURATION_USAGE = 'write seconds (600) or a whole number with s, m, h or d (90s, 10m, 2h, 1d), from 1s to 1d';

/** `--for`: plain seconds or one number and unit, checked against the gateway's bounds before anything is sent. */
function parseDuration(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text);
  if (match === null) throw new CliError(`--for "${text}" is not a duration; ${DURATION_USAGE}`);
  const size = UNITS.find(([unit]) => unit === (match[2] || 's'))?.[1] ?? 1;
  const seconds = Number(match[1]) * size;
  if (seconds < 1) throw new CliError(`--for ${text} is no time at all; ${DURATION_USAGE}`);
  if (seconds > MAX_SECONDS) {
    throw new CliError(`--for ${text} is longer than a day, the longest an override lasts; for a lasting level set log.level (DYNMCP_LOG_LEVEL) in the gateway's configuration`);
  }
  return seconds;
}

/** A span as its two largest units: `45s`, `9m 58s`, `2h`, `23h 59m`, `1d`. */
function formatSpan(totalSeconds: number): string {
  const seconds = Math.max(0, Math.round(totalSeconds));
  const first = UNITS.findIndex(([, size]) => seconds >= size);
  if (first === -1) return '0s';
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of UNITS.slice(first, first + 2)) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0) parts.push(`${count}${unit}`);
  }
  return parts.join(' ');
}

/** A moment in the local time zone: `14:32:05` today, `tomorrow 09:15:00`, else with its date. */
function localTime(at: Date, now: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  const day = (date: Date) => `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
  if (day(at) === day(now)) return time;
  const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  return day(at) === day(tomorrow) ? `tomorrow ${time}` : `${day(at)} ${time}`;
}

/** `debug until 14:32:05 (9m 58s left), set by alice, revision 12`. */
function describeOverride(override: NonNullable<LogLevelState['override']>): string {
  const now = new Date();
  const ends = new Date(override.expires_at);
  const left = (ends.getTime() - now.getTime()) / 1000;
  const facts = [`${override.level} until ${localTime(ends, now)} (${left > 0 ? `${formatSpan(left)} left` : 'ending now'})`];
  if (override.set_by !== undefined) facts.push(`set by ${override.set_by}`);
  facts.push(`revision ${override.revision}`);
  return facts.join(', ');
}

function printState(out: Output, state: LogLevelState) {
  const rows: Array<[string, string]> = [
    ['level', state.level],
    ['configured', state.configured],
    ['override', state.override === null ? 'none' : describeOverride(state.override)],
  ];
  for (const [name, value] of rows) out.line(`${name.padEnd(12)}${value}`);
}

/**
 * One call of the route. A gateway that answers 404 predates it (its admin router has no such
 * route, `NOT_FOUND`; the route itself never answers 404): said so, rather than as a refusal.
 */
async function request(context: CommandContext, method: 'GET' | 'PUT' | 'DELETE', body?: unknown) {
  try {
    const { data, meta } = await context.admin().request<LogLevelState>(method, ROUTE, body);
    return { state: data, applied: meta?.applied !== false };
  } catch (error) {
    if (!isCliError(error) || error.errorCode !== 'NOT_FOUND') throw error;
    throw new CliError(`the gateway at ${context.connection().url} has no ${ROUTE}: it is older than this command; upgrade it to change its log level without a restart`, {
      errorCode: error.errorCode,
      cause: error,
    });
  }
}

async function show(context: CommandContext) {
  const { state } = await request(context, 'GET');
  if (context.out.format === 'json') return context.out.json(state);
  printState(context.out, state);
}

async function set(context: CommandContext, level: string, seconds: number | undefined) {
  const { state, applied } = await request(context, 'PUT', { level, ...(seconds === undefined ? {} : { duration_seconds: seconds }) });
  const { out } = context;
  if (out.format === 'json') return out.json({ ...state, applied });
  const { override } = state;
  // Not applied in time, the answer is still the replica's previous state: say what was stored.
  if (!applied || override === null || override.level !== level) {
    return out.line(`stored: log level ${level} for ${seconds === undefined ? 'the default duration' : formatSpan(seconds)}; the replica that answered still logs at ${state.level}`);
  }
  out.line(`set: ${describeOverride(override)}; then back to ${state.configured}`);
}

async function reset(context: CommandContext) {
  const { state, applied } = await request(context, 'DELETE');
  const { out } = context;
  if (out.format === 'json') return out.json({ ...state, applied });
  if (!applied || state.override !== null) return out.line(`stored: no override; the replica that answered still logs at ${state.level}`);
  out.line(`no override: log level ${state.level}, the configured level`);
}

/** What the words ask for, refused before any request when they do not say it. */
function planOf(word: string | undefined, duration: string | undefined): { action: 'show' } | { action: 'reset' } | { action: 'set'; level: string; seconds: number | undefined } {
  if (word === undefined) {
    if (duration !== undefined) throw new CliError(`--for needs a level: dynmcp log-level debug --for ${duration}`);
    return { action: 'show' };
  }
  if (word === RESET) {
    if (duration !== undefined) throw new CliError('reset ends the override now; it takes no --for');
    return { action: 'reset' };
  }
  if (!(LEVELS as readonly string[]).includes(word)) {
    const silent = word === 'silent' ? ' ("silent" only in the gateway\'s configuration: an override cannot hide errors)' : '';
    throw new CliError(`log-level: "${word}" is not a level${silent}; write one of ${LEVELS.join(', ')} (or ${RESET} to end the override)`);
  }
  return { action: 'set', level: word, seconds: duration === undefined ? undefined : parseDuration(duration) };
}

/** `log-level [error|warn|info|debug|reset] [--for <duration>]`: the gateway's log level override. */
export function registerLogLevel(program: Command, io: CliIo, run: (work: () => Promise<void>) => Promise<void>): void {
  program
    .command('log-level')
    .usage(`[${[...LEVELS, RESET].join('|')}] [--for <duration>]`)
    .argument('[level]', `${LEVELS.join(', ')}: set it for a while; ${RESET}: end the override; none: show the level`)
    .option('--for <duration>', 'how long the level lasts: 90s, 10m, 2h, 1d or seconds, at most 1d (default: the gateway\'s, 15m)')
    .description('show the gateway\'s log level and override, set one for a while (log-level debug --for 10m), or end it (log-level reset)')
    .action((word: string | undefined, options: { for?: string }, command: Command) =>
      run(async () => {
        const plan = planOf(word, options.for);
        const context = contextOf(command, io);
        if (plan.action === 'show') return show(context);
        if (plan.action === 'reset') return reset(context);
        return set(context, plan.level, plan.seconds);
      }),
    );
}
