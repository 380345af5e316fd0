import { isIP } from 'node:net';
import convict from 'convict';
import { oneOf } from './config-type.js';
import { parseSessionSecret } from './session-secret.js';

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * What went wrong in a JSON text, without the text: V8 quotes the start of what it could not read
 * (`Unexpected token 'o', "nope" is not valid JSON`), and a secret setting must never be echoed.
 */
export function jsonErrorReason(error: unknown): string {
  return (error as Error).message.replace(/, ".*" is not valid JSON$/s, '');
}

/**
 * JSON settings (`DYNMCP_PLUGINS`, `DYNMCP_AUTH_KEYS`) are JSON text in the environment. convict reads
 * environment variables while it is being built, where a parse error would escape with nothing but
 * the parser's words; text that does not parse stays text instead, for the format to refuse at
 * validation, where the message names the setting and the loader adds its variable.
 */
const fromJson = (value: unknown) => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
};

/** Refuses JSON text that did not parse (see {@link fromJson}), saying why and what `shape` was expected. */
function refuseUnparsedJson(value: unknown, shape: string): void {
  if (typeof value !== 'string') return;
  let reason = 'a text, not a list';
  try {
    JSON.parse(value);
  } catch (error) {
    reason = `this is not JSON: ${jsonErrorReason(error)}`;
  }
  throw new Error(`must be a JSON list such as ${shape}; ${reason}`);
}

/**
 * A whole number as the environment spells it: decimal digits, blanks around them allowed. convict's
 * own `nat`, `int` and `port` read text with parseInt, which stops at the first other character:
 * `DYNMCP_UPSTREAM_TIMEOUT_MS=5s` made a 5 ms timeout, `DYNMCP_PORT=3.9e4` port 3. Any other text
 * (a unit, a sign, a decimal point, an exponent, hex) stays text, for the format to refuse with the
 * value quoted. A number from a file is kept as it is and checked likewise.
 */
const fromDecimalText = (value: unknown) => {
  if (typeof value !== 'string' || !/^\s*\d+\s*$/.test(value)) return value;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : value;
};

/** The number formats: whole numbers from `min` to `max`, read by {@link fromDecimalText}. */
function wholeNumberFormat(min: number, max: number, expected: string) {
  return {
    coerce: fromDecimalText,
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
        const empty = typeof value === 'string' && value.trim() === '' ? '; it is empty' : '';
        throw new Error(`must be ${expected}, in digits only: no unit, sign, decimal point or exponent${empty}`);
      }
    },
  };
}

/**
 * The longest delay a Node.js timer keeps, 2^31−1 ms (about 24.8 days). setTimeout and setInterval
 * run a longer one after 1 ms, with nothing but a TimeoutOverflowWarning: a timeout meant as
 * "never" would time out at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The millisecond formats: whole numbers from `min` (see {@link wholeNumberFormat}) up to
 * {@link MAX_TIMER_MS}. Every setting in milliseconds uses one, whether a timer holds its value
 * today or it is compared with the clock, so none can turn into a 1 ms timer when code changes;
 * only the retention ages of `datasource.*RetentionMs` do not: they run to weeks by design and are
 * only compared with the time records were written.
 */
function millisecondsFormat(min: number, expected: string) {
  const whole = wholeNumberFormat(min, Number.MAX_SAFE_INTEGER, expected);
  return {
    coerce: whole.coerce,
    validate(value: unknown) {
      whole.validate(value);
      if ((value as number) > MAX_TIMER_MS) {
        throw new Error(`must be at most ${MAX_TIMER_MS} (about 24.8 days), the longest delay Node.js can time: it would run a longer one after 1 ms`);
      }
    },
  };
}

/** An IP address, or a network in CIDR notation (`10.0.0.0/8`, `fd00::/8`). */
const isAddressOrNetwork = (entry: string) => {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
};

/** Comma-separated in the environment, entries trimmed, empty ones dropped: an empty or blank value is an empty list. */
const fromCommaList = (value: unknown) =>
  typeof value === 'string' ? value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '') : value;

/** A list of texts: what {@link fromCommaList} makes of the environment, or a file's list of non-empty strings. */
function validateTextList(value: unknown): asserts value is string[] {
  if (!Array.isArray(value)) throw new Error('must be a list (comma-separated in the environment, a JSON list of strings in a file)');
  value.forEach((entry, index) => {
    if (typeof entry !== 'string' || entry.trim() === '') throw new Error(`entry ${index + 1} must be a non-empty string`);
  });
}

/** Shortest admin key (`admin.apiKeys`) and scoped key (`auth.keys`): a guessable key guards nothing. */
const MIN_KEY_LENGTH = 8;

/** The environment names a configuration file may be chosen by (`config/<env>.json`): no path, no hidden file. */
export const ENVIRONMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * On/off settings as the environment spells them. convict's own `Boolean` reads every text but
 * "false" as true, so `DYNMCP_METRICS_PUBLIC=0` or an empty `DYNMCP_UI=` would turn a feature on;
 * these are read, anything else is refused at start.
 */
const SWITCH_TEXTS: ReadonlyMap<string, boolean> = new Map([
  ['true', true], ['false', false], ['1', true], ['0', false], ['yes', true], ['no', false], ['on', true], ['off', false],
]);

/** True when `text` is base64 (or base64url) of exactly 32 bytes: a key of `credentials.key` or `credentials.previousKeys`. */
function isBase64Key(text: string): boolean {
  return /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) && Buffer.from(text, 'base64').length === 32;
}

/** JWS algorithms an OAuth access token may be signed with (`auth.oauth.algorithms`). */
export const OAUTH_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** A host name (`api.example.com`) or a wildcard for the names below one (`*.example.com`); not an IPv4 spelling such as `10.1`. */
const isHostNamePattern = (entry: string) => {
  const labels = entry.replace(/^\*\./, '').replace(/\.$/, '').split('.');
  return labels.every((label) => /^[A-Za-z0-9_-]{1,63}$/.test(label)) && !/^\d+$/.test(labels.at(-1) ?? '');
};

// The formats the schema uses beyond convict's own. Registering is idempotent.
convict.addFormats({
  // Settings that default to `null` ("by environment", see load-config.ts) declare `nullable: true`.
  // On/off settings (see SWITCH_TEXTS).
  switch: {
    coerce: (value: unknown) => (typeof value === 'string' ? (SWITCH_TEXTS.get(value.trim().toLowerCase()) ?? value) : value),
    validate(value: unknown) {
      if (typeof value !== 'boolean') throw new Error('must be true or false (or 1/0, yes/no, on/off)');
    },
  },
  list: {
    coerce: fromCommaList,
    validate: validateTextList,
  },
  // At least one name: an empty DYNMCP_AUTH_PROVIDERS (a compose file's unset variable) would leave
  // no caller able to authenticate. With auth.oauth.issuer set, ["oauth"] is the OAuth-only list.
  'provider-list': {
    coerce: fromCommaList,
    validate(value: unknown) {
      validateTextList(value);
      if (value.length === 0) throw new Error('must name at least one auth provider, e.g. api-key (built in) or oauth');
    },
  },
  // Admin keys, plain or `name:key`. An empty or blank DYNMCP_API_KEYS is no key (the gateway warns
  // at start), never a key that is empty. The value is never quoted in the message.
  'admin-key-list': {
    coerce: fromCommaList,
    validate(value: unknown) {
      validateTextList(value);
      value.forEach((entry, index) => {
        if (entry.length < MIN_KEY_LENGTH) {
          const length = entry.length === 1 ? '1 character' : `${entry.length} characters`;
          throw new Error(`entry ${index + 1} is ${length} long; an admin key needs at least ${MIN_KEY_LENGTH} (make a random one with: openssl rand -base64 32)`);
        }
      });
    },
  },
  'listen-host': {
    validate(value: unknown) {
      if (typeof value !== 'string' || !/^[^\s,]+$/.test(value)) {
        throw new Error('must be an address or host name to listen on, e.g. 127.0.0.1, 0.0.0.0 or ::, without blanks (an empty one would listen on every interface)');
      }
    },
  },
  'environment-name': {
    validate(value: unknown) {
      if (typeof value !== 'string' || !ENVIRONMENT_NAME.test(value)) {
        throw new Error('must be a name such as development, production or staging (letters, digits and . _ -, at most 64; it picks config/<env>.json)');
      }
    },
  },
  'env-name-list': {
    coerce: fromCommaList,
    validate(value: unknown) {
      if (!Array.isArray(value)) throw new Error('must be a list of variable names, NAME_PREFIX* or *');
      for (const entry of value) {
        if (typeof entry !== 'string' || !/^(\*|[A-Za-z_][A-Za-z0-9_]*\*?)$/.test(entry)) {
          throw new Error(`"${String(entry)}" is not a variable name, a prefix ending in * (RESEND_*) or *`);
        }
      }
    },
  },
  'egress-rule-list': {
    coerce: fromCommaList,
    validate(value: unknown) {
      if (!Array.isArray(value)) throw new Error('must be a list of CIDRs, addresses and host names');
      for (const entry of value) {
        if (typeof entry !== 'string' || !(isAddressOrNetwork(entry) || isHostNamePattern(entry))) {
          throw new Error(`"${String(entry)}" is not a CIDR (10.0.0.0/8), an address (10.0.0.1, ::1) or a host name (api.example.com, *.example.com)`);
        }
      }
    },
  },
  'claim-name-list': {
    coerce: fromCommaList,
    validate(value: unknown) {
      if (!Array.isArray(value)) throw new Error('must be a list of token claim names such as sub,email');
      for (const entry of value) {
        if (typeof entry !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$/.test(entry)) {
          throw new Error(`"${String(entry)}" is not a claim name (letters, digits and _ . : / -, at most 128 characters; no wildcards)`);
        }
      }
    },
  },
  // 32 random bytes in base64 (`openssl rand -base64 32`); empty: no credential store. The value is
  // never quoted in the message.
  'credentials-key': {
    validate(value: unknown) {
      if (value === '') return;
      const text = typeof value === 'string' ? value.trim() : '';
      if (!isBase64Key(text)) {
        throw new Error('must be 32 random bytes in base64 (generate one with: openssl rand -base64 32)');
      }
    },
  },
  'credentials-key-list': {
    validate(value: unknown) {
      const entries = typeof value === 'string' ? value.split(',').map((entry) => entry.trim()) : undefined;
      if (entries === undefined) throw new Error('must be keys of 32 random bytes in base64, separated by commas');
      entries.forEach((text, index) => {
        if (text === '') return;
        if (!isBase64Key(text)) {
          throw new Error(`entry ${index + 1} is not 32 random bytes in base64; list the keys credentials.key had before, separated by commas`);
        }
      });
    },
  },
  'address-list': {
    coerce: (value: unknown) => (typeof value === 'string' ? value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '') : value),
    validate(value: unknown) {
      if (!Array.isArray(value)) throw new Error('must be a list of IP addresses or CIDR networks');
      for (const entry of value) {
        if (typeof entry !== 'string' || !isAddressOrNetwork(entry.trim())) {
          throw new Error(`"${String(entry)}" is not an IP address or CIDR network (e.g. 10.0.0.7, 10.0.0.0/8, fd00::/8)`);
        }
      }
    },
  },
  // Numbers (see fromDecimalText); used instead of convict's lenient `nat` and `port`.
  'whole-number': wholeNumberFormat(0, Number.MAX_SAFE_INTEGER, 'a whole number, 0 or more'),
  'positive-int': wholeNumberFormat(1, Number.MAX_SAFE_INTEGER, 'a whole number, 1 or more'),
  'port-number': wholeNumberFormat(0, 65535, 'a port number from 0 to 65535'),
  milliseconds: millisecondsFormat(0, 'a whole number, 0 or more'),
  'positive-milliseconds': millisecondsFormat(1, 'a whole number, 1 or more'),
  'worker-count': {
    coerce: (value: unknown) => (typeof value === 'string' && value.trim() === 'auto' ? 'auto' : fromDecimalText(value)),
    validate(value: unknown) {
      if (value === 'auto') return;
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 256) {
        throw new Error('must be "auto" (one per CPU core) or a whole number from 1 to 256');
      }
    },
  },
  // Asymmetric JWS algorithms only: `none` proves nothing, and an HMAC (HS*) key would have to be a
  // secret shared with every resource server, which an issuer's public JWKS cannot be.
  'oauth-algorithm-list': {
    coerce: fromCommaList,
    validate(value: unknown) {
      if (!Array.isArray(value) || value.length === 0) throw new Error(`must be a non-empty list of ${OAUTH_ALGORITHMS.join(', ')}`);
      for (const entry of value) {
        if (!(OAUTH_ALGORITHMS as readonly unknown[]).includes(entry)) {
          throw new Error(`"${String(entry)}" is not an accepted signing algorithm; use some of ${OAUTH_ALGORITHMS.join(', ')} (never none or HS*)`);
        }
      }
    },
  },
  'public-url': {
    coerce: (value: unknown) => (typeof value === 'string' ? value.trim().replace(/\/+$/, '') : value),
    validate(value: unknown) {
      if (value === '') return;
      let url: URL | undefined;
      try {
        url = new URL(String(value));
      } catch {
        // reported below
      }
      if (url === undefined || !/^https?:$/.test(url.protocol) || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
        throw new Error(`"${String(value)}" must be an http(s) URL without query, fragment or credentials, e.g. https://mcp.example.com`);
      }
    },
  },
  'session-secret': {
    validate(value: unknown) {
      if (typeof value !== 'string') throw new Error('must be base64 or hex text');
      parseSessionSecret(value);
    },
  },
  'datasource-name': {
    validate(value: unknown) {
      if (typeof value !== 'string' || !/^[A-Za-z0-9@/._-]{1,128}$/.test(value)) {
        throw new Error('must be sqlite, etcd, mysql or the name of a datasource plugin');
      }
    },
  },
  'plugin-list': {
    coerce: fromJson,
    validate(value: unknown) {
      refuseUnparsedJson(value, '[{ "module": "<npm package or path>", "options": { … } }]');
      if (!Array.isArray(value)) throw new Error('must be a list of { "module": "…", "options": { … } }');
      value.forEach((entry, index) => {
        if (!isObject(entry) || typeof entry.module !== 'string' || entry.module === '') {
          throw new Error(`entry ${index} must have a "module" (npm package name or path)`);
        }
        if (entry.options !== undefined && !isObject(entry.options)) throw new Error(`entry ${index}: "options" must be an object`);
        const unknown = Object.keys(entry).filter((key) => key !== 'module' && key !== 'options');
        if (unknown.length > 0) throw new Error(`entry ${index} has unknown keys: ${unknown.join(', ')}`);
      });
    },
  },
  'key-list': {
    coerce: fromJson,
    validate(value: unknown) {
      refuseUnparsedJson(value, '[{ "id": "team-a", "key": "…", "instances": ["shop"] }], names in double quotes');
      if (!Array.isArray(value)) throw new Error('must be a list of { "id", "key", "admin", "instances" }');
      const ids = new Set<string>();
      value.forEach((entry, index) => {
        if (!isObject(entry)) throw new Error(`entry ${index} must be an object`);
        if (typeof entry.id !== 'string' || entry.id === '') throw new Error(`entry ${index} needs an "id"`);
        if (ids.has(entry.id)) throw new Error(`id "${entry.id}" is used twice`);
        ids.add(entry.id);
        if (typeof entry.key !== 'string' || entry.key.length < MIN_KEY_LENGTH) {
          throw new Error(`entry "${entry.id}" needs a "key" of at least ${MIN_KEY_LENGTH} characters`);
        }
        if (entry.admin !== undefined && typeof entry.admin !== 'boolean') throw new Error(`entry "${entry.id}": "admin" must be true or false`);
        const instances = entry.instances;
        if (instances !== undefined && instances !== '*' && !(Array.isArray(instances) && instances.every((i) => typeof i === 'string'))) {
          throw new Error(`entry "${entry.id}": "instances" must be "*" or a list of instance ids`);
        }
        const unknown = Object.keys(entry).filter((key) => !['id', 'key', 'admin', 'instances'].includes(key));
        if (unknown.length > 0) throw new Error(`entry "${entry.id}" has unknown keys: ${unknown.join(', ')}`);
      });
    },
  },
});

/**
 * The one configuration schema of DynMCP. Every key has a doc, a format, a default and, where an
 * operator sets it per deployment, a `DYNMCP_*` environment variable. `docs/configuration.md` lists
 * them all; keep the two in step.
 */
export const configSchema = {
  env: {
    doc: 'Environment name; selects config/<env>.json on top of config/default.json.',
    format: 'environment-name',
    default: 'development',
    env: 'DYNMCP_ENV',
  },
  server: {
    host: {
      doc: 'Address to listen on. 127.0.0.1 by default; 0.0.0.0 to serve other machines.',
      format: 'listen-host',
      default: '127.0.0.1',
      env: 'DYNMCP_HOST',
    },
    port: { doc: 'Port to listen on (0 picks a free one).', format: 'port-number', default: 8080, env: 'DYNMCP_PORT' },
    bodyLimitBytes: {
      doc: 'Largest accepted request body, admin API and MCP alike (413 above it).',
      format: 'whole-number',
      default: 4 * 1024 * 1024,
      env: 'DYNMCP_BODY_LIMIT_BYTES',
    },
    allowedHosts: {
      doc: 'Host header names accepted on /mcp (DNS-rebinding guard). Empty: localhost names when bound to loopback, any otherwise.',
      format: 'list',
      default: [] as string[],
      env: 'DYNMCP_ALLOWED_HOSTS',
    },
    allowedOrigins: {
      doc: 'Origin hostnames accepted on /mcp when a browser sends one (403 otherwise). Empty: localhost only.',
      format: 'list',
      default: [] as string[],
      env: 'DYNMCP_ALLOWED_ORIGINS',
    },
    shutdownGraceMs: {
      doc: 'How long shutdown waits for in-flight requests before closing connections (logged as a warning when it runs out).',
      format: 'milliseconds',
      default: 10000,
      env: 'DYNMCP_SHUTDOWN_GRACE_MS',
    },
    requestTimeoutMs: {
      doc: 'Most time a client may take to send a whole request, headers and body (408 and the connection closed after it; 0: no limit). Responses, MCP event streams included, are not timed.',
      format: 'milliseconds',
      default: 30_000,
      env: 'DYNMCP_REQUEST_TIMEOUT_MS',
    },
    headersTimeoutMs: {
      doc: 'Most time a client may take to send the request headers (408 after it; 0: only requestTimeoutMs). At most requestTimeoutMs: a larger value set is refused at start, the default is lowered to it.',
      format: 'milliseconds',
      default: 10_000,
      env: 'DYNMCP_HEADERS_TIMEOUT_MS',
    },
    keepAliveTimeoutMs: {
      doc: 'How long an idle keep-alive connection stays open between two requests. Above the idle timeout of a load balancer in front (often 60 s), so the balancer, not the gateway, closes idle connections.',
      format: 'positive-milliseconds',
      default: 65_000,
      env: 'DYNMCP_KEEP_ALIVE_TIMEOUT_MS',
    },
    maxConnectionsPerAddress: {
      doc: 'Most open connections from one client address; more are closed at once (0: no cap). Counts socket addresses: trusted proxies are exempt, so limit their clients at the proxy.',
      format: 'whole-number',
      default: 256,
      env: 'DYNMCP_MAX_CONNECTIONS_PER_ADDRESS',
    },
    workers: {
      doc: 'Worker processes serving the port together (node:cluster): a number, or "auto" for one per CPU core. 1: one process, no cluster. Each worker is its own replica, with its own per-replica limits; any worker serves any session (see docs/scaling.md).',
      format: 'worker-count',
      default: 1 as number | 'auto',
      env: 'DYNMCP_WORKERS',
    },
    publicUrl: {
      doc: 'The URL clients reach the gateway at (https://mcp.example.com, no trailing slash), behind any proxy. Names each instance as an OAuth protected resource, <publicUrl>/mcp/<id>: the audience its tokens must carry. Required with auth.oauth.issuer.',
      format: 'public-url',
      default: '',
      env: 'DYNMCP_PUBLIC_URL',
    },
    trustedProxies: {
      doc: 'Reverse proxies (addresses or CIDRs) whose X-Forwarded-For is believed: the client is the right-most entry that is not a trusted proxy. Empty: X-Forwarded-For is ignored.',
      format: 'address-list',
      default: [] as string[],
      env: 'DYNMCP_TRUSTED_PROXIES',
    },
  },
  plugins: {
    doc: 'Plugins to load at start: [{ "module": "<npm package or path>", "options": { … } }], JSON in the environment.',
    format: 'plugin-list',
    default: [] as Array<{ module: string; options?: Record<string, unknown> }>,
    env: 'DYNMCP_PLUGINS',
  },
  auth: {
    providers: {
      doc: 'Auth providers asked in order, by name; "api-key" is built in, plugins add others.',
      format: 'provider-list',
      default: ['api-key'],
      env: 'DYNMCP_AUTH_PROVIDERS',
    },
    keys: {
      doc: 'Scoped API keys: [{ "id": "team-a", "key": "…", "admin": false, "instances": ["shop"] }], JSON in the environment. "instances" may be "*".',
      format: 'key-list',
      default: [] as Array<{ id: string; key: string; admin?: boolean; instances?: '*' | string[] }>,
      env: 'DYNMCP_AUTH_KEYS',
      sensitive: true,
    },
    maxFailures: {
      doc: 'Failed authentications one client address may make within failureWindowMs, on /mcp and /admin together, before it gets 429 (0: no limit).',
      format: 'whole-number',
      default: 20,
      env: 'DYNMCP_AUTH_MAX_FAILURES',
    },
    failureWindowMs: {
      doc: 'The window of auth.maxFailures; a blocked address may try again once its oldest failure is this old.',
      format: 'milliseconds',
      default: 60_000,
      env: 'DYNMCP_AUTH_FAILURE_WINDOW_MS',
    },
    oauth: {
      issuer: {
        doc: 'OAuth 2.1 authorization server whose JWT access tokens /mcp accepts (its issuer URL, exactly as its metadata names it). Empty: OAuth off. Set: the "oauth" provider is asked first (unless auth.providers places it, before api-key) and server.publicUrl is required.',
        format: String,
        default: '',
        env: 'DYNMCP_OAUTH_ISSUER',
      },
      audiences: {
        doc: 'Audiences accepted besides each instance\'s own resource URL (<server.publicUrl>/mcp/<id>), for authorization servers that cannot issue per-resource tokens; comma-separated in the environment. A token for one of these opens every instance its principal may use.',
        format: 'list',
        default: [] as string[],
        env: 'DYNMCP_OAUTH_AUDIENCES',
      },
      clockSkewSeconds: {
        doc: 'Clock difference tolerated when checking a token\'s exp and nbf.',
        format: 'whole-number',
        default: 30,
        env: 'DYNMCP_OAUTH_CLOCK_SKEW_SECONDS',
      },
      algorithms: {
        doc: 'Signing algorithms accepted on access tokens; asymmetric only (never none or HS*).',
        format: 'oauth-algorithm-list',
        default: ['RS256', 'PS256', 'ES256', 'EdDSA'] as string[],
        env: 'DYNMCP_OAUTH_ALGORITHMS',
      },
      jwksCooldownMs: {
        doc: 'Least time between two fetches of the issuer\'s signing keys (JWKS) caused by tokens with an unknown key id, so forged key ids cannot make the gateway hammer the issuer; a rotated key is picked up after at most this long.',
        format: 'milliseconds',
        default: 30_000,
        env: 'DYNMCP_OAUTH_JWKS_COOLDOWN_MS',
      },
      requireAccessTokenType: {
        doc: 'Accept only tokens whose JOSE header types them as JWT access tokens (typ at+jwt, RFC 9068), so no other JWT of the issuer (an OpenID Connect ID token) passes for one. Off by default: many authorization servers type access tokens JWT; a token typed as anything else than JWT or at+jwt is refused either way.',
        format: 'switch',
        default: false,
        env: 'DYNMCP_OAUTH_REQUIRE_ACCESS_TOKEN_TYPE',
      },
    },
  },
  admin: {
    // The failure limit once covered /admin only; it moved to auth.* when it came to cover /mcp.
    maxAuthFailures: {
      doc: 'Deprecated: use auth.maxFailures. Still applies while auth.maxFailures is left at its default; the gateway logs a warning at start while it is set.',
      format: 'whole-number',
      nullable: true,
      default: null as number | null,
      env: 'DYNMCP_ADMIN_MAX_AUTH_FAILURES',
    },
    authFailureWindowMs: {
      doc: 'Deprecated: use auth.failureWindowMs. Still applies while auth.failureWindowMs is left at its default; the gateway logs a warning at start while it is set.',
      format: 'milliseconds',
      nullable: true,
      default: null as number | null,
      env: 'DYNMCP_ADMIN_AUTH_FAILURE_WINDOW_MS',
    },
    apiKeys: {
      doc: 'API keys accepted on /admin (Authorization: Bearer <key> or x-api-key: <key>), comma-separated in the environment. An entry "name:key" names its key in the history and audit (name: 1 to 64 of A-Z a-z 0-9 _ . -; key: 8 characters or more); any other entry is a key, whole. Every entry has 8 characters or more; an empty DYNMCP_API_KEYS is no key.',
      format: 'admin-key-list',
      default: [] as string[],
      env: 'DYNMCP_API_KEYS',
      sensitive: true,
    },
    importBodyLimitBytes: {
      doc: 'Largest accepted body of POST /admin/import/openapi (413 above it); also the largest OpenAPI document it reads. Real API descriptions reach 13 MB.',
      format: 'whole-number',
      default: 20 * 1024 * 1024,
      env: 'DYNMCP_ADMIN_IMPORT_BODY_LIMIT_BYTES',
    },
    importTimeoutMs: {
      doc: 'Longest time POST /admin/import/openapi may spend reading and mapping one document, in a worker thread (400 OPENAPI_TOO_COMPLEX after it); bounds what a hostile document costs. GitHub\'s REST description maps in a few seconds; the default leaves margin on a small, busy machine.',
      format: 'milliseconds',
      default: 60_000,
      env: 'DYNMCP_ADMIN_IMPORT_TIMEOUT_MS',
    },
  },
  datasource: {
    type: {
      doc: 'Where definitions live: sqlite (embedded, default), etcd, mysql, or the name of a datasource plugin.',
      format: 'datasource-name',
      default: 'sqlite',
      env: 'DYNMCP_DATASOURCE',
    },
    startupWaitMs: {
      doc: 'How long start-up waits for the store before serving anyway, not ready (alive, /readyz 503) until it connects.',
      format: 'milliseconds',
      default: 5000,
      env: 'DYNMCP_STARTUP_WAIT_MS',
    },
    pollIntervalMs: {
      doc: 'How often the SQL datasources read the change feed.',
      format: 'milliseconds',
      default: 250,
      env: 'DYNMCP_POLL_INTERVAL_MS',
    },
    sqlite: {
      path: {
        doc: 'SQLite database file; created with its directory on first start. A path that can never hold one (a folder, a file that is not an SQLite database, a path under a file) stops the start, naming it.',
        format: String,
        default: './data/dynmcp.sqlite',
        env: 'DYNMCP_SQLITE_PATH',
      },
    },
    etcd: {
      endpoints: {
        doc: 'etcd endpoints, comma-separated in the environment.',
        format: 'list',
        default: ['http://127.0.0.1:2379'],
        env: 'DYNMCP_ETCD_ENDPOINTS',
      },
      prefix: { doc: 'Key prefix of the definitions.', format: String, default: '/dynmcp', env: 'DYNMCP_ETCD_PREFIX' },
      username: { doc: 'etcd user name.', format: String, default: '', env: 'DYNMCP_ETCD_USERNAME' },
      password: {
        doc: 'etcd password.',
        format: String,
        default: '',
        env: 'DYNMCP_ETCD_PASSWORD',
        sensitive: true,
      },
      caFile: { doc: 'PEM file of the CA that signed the etcd server certificate (TLS).', format: String, default: '', env: 'DYNMCP_ETCD_CA_FILE' },
      certFile: { doc: 'PEM client certificate for etcd (mutual TLS).', format: String, default: '', env: 'DYNMCP_ETCD_CERT_FILE' },
      keyFile: { doc: 'PEM private key of the etcd client certificate.', format: String, default: '', env: 'DYNMCP_ETCD_KEY_FILE' },
      keepaliveMs: {
        doc: 'gRPC keepalive ping interval; a frozen etcd is noticed within this plus 2 s. etcd refuses pings more often than its --grpc-keepalive-min-time (5 s by default).',
        format: 'milliseconds',
        default: 5000,
        env: 'DYNMCP_ETCD_KEEPALIVE_MS',
      },
    },
    mysql: {
      url: {
        doc: 'MySQL/MariaDB connection URL, mysql://user:password@host:port/database. Takes precedence over host/port/user/password/database.',
        format: String,
        default: '',
        env: 'DYNMCP_MYSQL_URL',
        sensitive: true,
      },
      host: { doc: 'MySQL host (when no url is set).', format: String, default: '127.0.0.1', env: 'DYNMCP_MYSQL_HOST' },
      port: { doc: 'MySQL port (when no url is set).', format: 'port-number', default: 3306, env: 'DYNMCP_MYSQL_PORT' },
      user: { doc: 'MySQL user (when no url is set).', format: String, default: 'dynmcp', env: 'DYNMCP_MYSQL_USER' },
      password: {
        doc: 'MySQL password (when no url is set).',
        format: String,
        default: '',
        env: 'DYNMCP_MYSQL_PASSWORD',
        sensitive: true,
      },
      database: { doc: 'MySQL database (when no url is set).', format: String, default: 'dynmcp', env: 'DYNMCP_MYSQL_DATABASE' },
      poolMax: { doc: 'Most pooled MySQL connections per replica.', format: 'whole-number', default: 10, env: 'DYNMCP_MYSQL_POOL_MAX' },
    },
    // The retention ages run to weeks and are only compared with the clock, never timed: not the
    // milliseconds format and its 24.8-day cap (see millisecondsFormat).
    tombstoneRetentionMs: {
      doc: 'SQL stores: how long deletes are kept for replicas to see; a replica further behind reloads everything.',
      format: 'whole-number',
      default: 24 * 60 * 60 * 1000,
      env: 'DYNMCP_TOMBSTONE_RETENTION_MS',
    },
    historyRetentionMs: {
      doc: 'How long the history of definitions (GET /admin/tds/:id/history, rollback, audit) keeps a version; a live record keeps its current version\'s entry however old.',
      format: 'whole-number',
      default: 30 * 24 * 60 * 60 * 1000,
      env: 'DYNMCP_HISTORY_RETENTION_MS',
    },
    historyMaxVersions: {
      doc: 'Most versions the history keeps per definition, however young (0: no cap besides historyRetentionMs).',
      format: 'whole-number',
      default: 100,
      env: 'DYNMCP_HISTORY_MAX_VERSIONS',
    },
  },
  replicas: {
    heartbeatMs: {
      doc: 'How often each replica renews its entry in the store (GET /admin/status), besides after each applied change.',
      format: 'positive-milliseconds',
      default: 5000,
      env: 'DYNMCP_REPLICA_HEARTBEAT_MS',
    },
    ttlMs: {
      doc: 'How long a replica entry outlives its last renewal: a crashed or frozen replica leaves the listing within this. Must exceed heartbeatMs; etcd rounds it up to whole seconds.',
      format: 'positive-milliseconds',
      default: 15000,
      env: 'DYNMCP_REPLICA_TTL_MS',
    },
  },
  executor: {
    httpClient: {
      doc: 'HTTP client of the http tool kind: undici (fast, default) or got; both honour the same limits.',
      format: oneOf('undici', 'got'),
      default: 'undici',
      env: 'DYNMCP_HTTP_CLIENT',
    },
    timeoutMs: {
      doc: 'Upstream call timeout when a tool sets no ext_info.timeout_ms.',
      format: 'positive-milliseconds',
      default: 30000,
      env: 'DYNMCP_UPSTREAM_TIMEOUT_MS',
    },
    maxResponseBytes: {
      doc: 'Largest upstream answer, counted after decompression: the default of ext_info.max_response_bytes and its ceiling (a tool asking for more is refused).',
      format: 'positive-int',
      default: 10 * 1024 * 1024,
      env: 'DYNMCP_MAX_RESPONSE_BYTES',
    },
    toolEnvAllow: {
      doc: 'Environment variables tools may read with ${env:NAME}: names, NAME_PREFIX* or * (comma-separated in the environment). DYNMCP_* never. null: by environment (development: *, others: none).',
      format: 'env-name-list',
      nullable: true,
      default: null as string[] | null,
      env: 'DYNMCP_TOOL_ENV_ALLOW',
    },
    secretsDir: {
      doc: 'Directory of the files ${secret:NAME} reads (the Docker and Kubernetes convention by default).',
      format: String,
      default: '/run/secrets',
      env: 'DYNMCP_SECRETS_DIR',
    },
    toolClaimsAllow: {
      doc: "Claims of the caller's verified token tools may send upstream with ${claim:NAME} (exact names, comma-separated in the environment, e.g. sub,email). A tool naming another claim is refused at write time. Default: none.",
      format: 'claim-name-list',
      default: [] as string[],
      env: 'DYNMCP_TOOL_CLAIMS_ALLOW',
    },
    egress: {
      allow: {
        doc: 'CIDRs, addresses and host names (api.example.com, *.example.com) tools may reach although a built-in rule denies them. null: by environment (development: loopback and private networks, others: none).',
        format: 'egress-rule-list',
        nullable: true,
        default: null as string[] | null,
        env: 'DYNMCP_EGRESS_ALLOW',
      },
      deny: {
        doc: 'CIDRs, addresses and host names tools may never reach; wins over allow.',
        format: 'egress-rule-list',
        default: [] as string[],
        env: 'DYNMCP_EGRESS_DENY',
      },
    },
  },
  credentials: {
    key: {
      doc: 'Key of the per-principal credential store (PUT /admin/credentials/<principal>/<name>, ${principal:NAME}): 32 random bytes in base64, the same on every replica. Values are encrypted with AES-256-GCM under it. Empty: no store; a gateway whose store holds credentials refuses to start without it.',
      format: 'credentials-key',
      default: '',
      env: 'DYNMCP_CREDENTIALS_KEY',
      sensitive: true,
    },
    previousKeys: {
      doc: 'Keys credentials.key had before, in base64, separated by commas: stored credentials encrypted under them still decrypt, and POST /admin/credentials/rotate re-encrypts them under credentials.key. Remove a key once no record names it (GET /admin/credentials shows each key_id).',
      format: 'credentials-key-list',
      default: '',
      env: 'DYNMCP_CREDENTIALS_PREVIOUS_KEYS',
      sensitive: true,
    },
  },
  mcp: {
    sessionIdleTimeoutMs: {
      doc: 'A 2025-era session held by this replica without requests or an open stream for this long is dropped from its memory; the session itself lasts until sessionTtlMs (the next request rebuilds it).',
      format: 'milliseconds',
      default: 30 * 60 * 1000,
      env: 'DYNMCP_SESSION_IDLE_TIMEOUT_MS',
    },
    sessionTtlMs: {
      doc: 'How long a 2025-era session lasts from its initialize, whatever its use; then the client gets 404 and starts a new one.',
      format: 'positive-milliseconds',
      default: 24 * 60 * 60 * 1000,
      env: 'DYNMCP_SESSION_TTL_MS',
    },
    sessionSecret: {
      doc: 'Key that signs 2025-era session ids (base64 or hex of at least 32 random bytes), the same on every replica so that any replica serves any session. Empty: a random key per process, so a session lives only on the replica that opened it.',
      format: 'session-secret',
      default: '',
      env: 'DYNMCP_SESSION_SECRET',
      sensitive: true,
    },
    maxSessions: {
      doc: 'Most 2025-era sessions this replica holds at once; initialize is answered 503 above it.',
      format: 'whole-number',
      default: 10000,
      env: 'DYNMCP_MAX_SESSIONS',
    },
    toolsPageSize: {
      doc: 'Most tools one tools/list page holds; clients follow nextCursor for the rest.',
      format: 'positive-int',
      default: 100,
      env: 'DYNMCP_TOOLS_PAGE_SIZE',
    },
    maxSessionsPerPrincipal: {
      doc: 'Most 2025-era sessions one caller (principal, or anonymous client address) holds on this replica; its next initialize is answered 429 (0: only maxSessions applies). Its open 2026-07-28 `subscriptions/listen` streams are capped at the same number, counted apart.',
      format: 'whole-number',
      default: 100,
      env: 'DYNMCP_MAX_SESSIONS_PER_PRINCIPAL',
    },
    maxResultBytes: {
      doc: 'Largest tool result as sent to the client, JSON-encoded; a larger one becomes a tool error saying so.',
      format: 'positive-int',
      default: 32 * 1024 * 1024,
      env: 'DYNMCP_MAX_RESULT_BYTES',
    },
  },
  limits: {
    principal: {
      ratePerMinute: {
        doc: 'Most tools/call one caller (principal, or anonymous client address) makes per minute on this replica, all instances together; 429 above it (0: no limit).',
        format: 'whole-number',
        default: 0,
        env: 'DYNMCP_PRINCIPAL_RATE_PER_MINUTE',
      },
      concurrency: {
        doc: 'Most tools/call one caller (principal, or anonymous client address) has running at once on this replica; 429 above it (0: no limit).',
        format: 'whole-number',
        default: 64,
        env: 'DYNMCP_PRINCIPAL_CONCURRENCY',
      },
    },
  },
  metrics: {
    enabled: {
      doc: 'Count requests, tool calls and refusals for Prometheus and serve GET /metrics. false: nothing is counted, GET /metrics answers 404 and metrics.port opens no listener.',
      format: 'switch',
      default: true as boolean,
      env: 'DYNMCP_METRICS_ENABLED',
    },
    public: {
      doc: 'Serve GET /metrics (Prometheus) without credentials. By default it needs an admin key, like /admin.',
      format: 'switch',
      default: false as boolean,
      env: 'DYNMCP_METRICS_PUBLIC',
    },
    port: {
      doc: 'Serve GET /metrics on a listener of its own at this port (on server.host, without credentials), and not on the main port. null: on the main port.',
      format: 'port-number',
      nullable: true,
      default: null as number | null,
      env: 'DYNMCP_METRICS_PORT',
    },
  },
  ui: {
    enabled: {
      doc: 'Serve the web console at /ui/ (a static app that manages the gateway through the admin API with an admin key). null: by environment (development: on, others: off).',
      format: 'switch',
      nullable: true,
      default: null as boolean | null,
      env: 'DYNMCP_UI',
    },
  },
  log: {
    level: {
      doc: 'Log level: error, warn, info, debug, or silent. PUT /admin/log-level overrides it on every replica for a while.',
      format: oneOf('error', 'warn', 'info', 'debug', 'silent'),
      default: 'info',
      env: 'DYNMCP_LOG_LEVEL',
    },
  },
};
