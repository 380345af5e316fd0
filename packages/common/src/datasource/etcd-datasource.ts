import { createHealthTracker, NOT_OPEN } from './health-tracker.js';
import { readFile } from 'node:fs/promises';
import type { Etcd3, IOptions } from 'etcd3';
import {
  GatewayError,
  type DataSource,
  type FeedHandlers,
  type Logger,
  type StoredRecord,
  type WriteOptions,
} from '@dynmcp/plugin';
import { describeEtcdError, etcdError, etcdUnavailable } from './etcd-errors.js';
import { createEtcdFeed, type EtcdFeed, type EtcdFeedState } from './etcd-feed.js';
import { checkKey, createEtcdKeys, serialise } from './etcd-keys.js';
import { probe, readOne, readRange, writeRecord, type EtcdCallContext } from './etcd-records.js';

/** Options of {@link createEtcdDataSource}. */
export interface EtcdDataSourceOptions {
  /** Client URLs, e.g. `http://127.0.0.1:2379`; `https://` ones use TLS. */
  endpoints: string[];
  /** Key prefix, e.g. `/dynmcp`: records live at `<prefix>/<kind>/<id>`. */
  prefix: string;
  /** etcd user for password authentication (none when empty). */
  username?: string;
  password?: string;
  /** PEM files: the CA of the server certificate, and a client certificate and key for mutual TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /**
   * gRPC keepalive ping interval (default 5000 ms): a frozen etcd or a dead link is noticed within
   * about this plus 2 s. etcd refuses pings more frequent than its `--grpc-keepalive-min-time`
   * (default 5 s) and drops the connection, so go lower only when etcd allows it.
   */
  keepaliveMs?: number;
  /** Deadline of one store call (default 3000 ms): while etcd is down, calls fail within it. */
  callTimeoutMs?: number;
  /** Pause before the feed's first retry after a break (default 200 ms), doubling up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  /** Longest pause between the feed's retries while etcd is down (default 5000 ms). */
  maxBackoffMs?: number;
  logger: Logger;
  /** Clock (epoch ms) for `lastSyncAt`; tests pass a fake. */
  now?: () => number;
}

const DEFAULT_KEEPALIVE_MS = 5000;
const KEEPALIVE_TIMEOUT_MS = 2000;
const DEFAULT_CALL_TIMEOUT_MS = 3000;
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

// etcd3's defaults retry every call three times and put a circuit breaker in front of each host
// that stays open for 5 s after three failures: a call to a dead etcd then takes four deadlines,
// and the first calls after etcd returns still fail. Calls here make one attempt within one
// deadline; the feed does its own retrying.
const noRetry = {
  execute: (fn: (context: { signal: AbortSignal }) => unknown) => Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
  onSuccess: () => ({ dispose() {} }),
  onFailure: () => ({ dispose() {} }),
} as unknown as Policy;

async function readTls(tls: EtcdDataSourceOptions['tls']): Promise<IOptions['credentials']> {
  const { caFile, certFile, keyFile } = tls ?? {};
  if (!caFile && !certFile && !keyFile) return undefined;
  try {
    const read = (file: string | undefined) => (file ? readFile(file) : Promise.resolve(undefined));
    const [ca, cert, key] = await Promise.all([read(caFile), read(certFile), read(keyFile)]);
    // grpc-js takes a null root certificate as "the system's roots".
    return { rootCertificate: ca ?? (null as unknown as Buffer), certChain: cert, privateKey: key };
  } catch (error) {
    throw etcdError('DYNMCP_TLS_FILE', error);
  }
}

async function clientOptions(options: EtcdDataSourceOptions, callTimeoutMs: number): Promise<IOptions> {
  const deadline = () => ({ deadline: Date.now() + callTimeoutMs });
  const credentials = await readTls(options.tls);
  return {
    hosts: options.endpoints,
    ...(credentials ? { credentials } : {}),
    ...(options.username ? { auth: { username: options.username, password: options.password ?? '', callOptions: deadline } } : {}),
    grpcOptions: {
      // Without keepalive a frozen etcd is never noticed (research/reliability.md §0 finding 3).
      'grpc.keepalive_time_ms': options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      'grpc.keepalive_permit_without_calls': 1,
      // grpc-js backs reconnects off up to 120 s; after an outage that would delay recovery.
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 2000,
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    },
    // Unary calls get a deadline; the watch stream lives as long as the connection.
    defaultCallOptions: (context) => (context.isStream ? {} : deadline()),
    faultHandling: { global: noRetry, host: () => noRetry },
  };
}

function checkWriteOptions(options: WriteOptions | undefined): number | undefined {
  const expected = options?.ifRevision;
  if (expected !== undefined && !(Number.isSafeInteger(expected) && expected >= 0)) {
    throw new GatewayError('INVALID_PAYLOAD', 'ifRevision must be a non-negative integer');
  }
  return expected;
}

/**
 * The etcd datasource over etcd3: records at `<prefix>/<kind>/<id>` as JSON, the record's revision
 * is the key's mod_revision, conditional writes are transactions comparing it. Every `watch()`
 * loads everything at one revision and watches from the next, and reloads in full after any break
 * (see `etcd-feed.ts`). etcd3 loads on `open()`, so importing this module loads no gRPC.
 */
export function createEtcdDataSource(options: EtcdDataSourceOptions): DataSource {
  if (options.endpoints.length === 0) throw new TypeError('etcd datasource needs at least one endpoint');
  const logger = options.logger.child({ component: 'datasource', datasource: 'etcd' });
  const keys = createEtcdKeys(options.prefix);
  const now = options.now ?? Date.now;
  const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;

  let client: Etcd3 | undefined;
  let opening: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let closed = false;
  const feeds = new Map<EtcdFeed, { handlers: FeedHandlers; state: EtcdFeedState }>();
  const health = createHealthTracker({
    logger,
    now,
    onChange: (current) => {
      for (const { handlers } of feeds.values()) handlers.onHealth?.(current);
    },
  });

  /** Connected when open and every feed is watching; otherwise the first reason found. */
  function refresh(): void {
    if (client === undefined) return health.disconnected(closed ? 'closed' : NOT_OPEN);
    const down = [...feeds.values()].find((feed) => !feed.state.connected);
    if (down === undefined) health.connected();
    else health.disconnected(down.state.reason ?? 'disconnected');
  }

  function context(timeoutMs = callTimeoutMs): EtcdCallContext {
    if (client === undefined) throw etcdError(closed ? 'DYNMCP_CLOSED' : 'DYNMCP_NOT_OPEN');
    return { client, keys, logger, timeoutMs };
  }

  /** Runs one store operation; foreign failures become STORE_UNAVAILABLE. */
  async function run<T>(operation: (context: EtcdCallContext) => Promise<T>): Promise<T> {
    try {
      return await operation(context());
    } catch (error) {
      throw etcdUnavailable(error);
    }
  }

  async function openOnce(): Promise<void> {
    let created: Etcd3 | undefined;
    try {
      let etcd3: typeof import('etcd3');
      try {
        etcd3 = await import('etcd3');
      } catch (error) {
        throw etcdError('DYNMCP_NO_DRIVER', error);
      }
      created = new etcd3.Etcd3(await clientOptions(options, callTimeoutMs));
      // One read proves the store answers and the credentials work; etcd3 itself connects lazily.
      await probe({ client: created, keys, logger, timeoutMs: callTimeoutMs });
      if (closed) throw etcdError('DYNMCP_CLOSED');
    } catch (error) {
      created?.close();
      health.disconnected(describeEtcdError(error));
      throw etcdUnavailable(error);
    }
    client = created;
    refresh();
    logger.info('store opened', { prefix: keys.root, keepaliveMs });
  }

  return {
    name: 'etcd',

    open() {
      if (closed) return Promise.reject(etcdUnavailable(etcdError('DYNMCP_CLOSED')));
      opening ??= openOnce().catch((error: unknown) => {
        opening = undefined;
        throw error;
      });
      return opening;
    },

    list(kind) {
      return run(async (ctx) => (await readRange(ctx, keys.kindPrefix(kind))).records.filter((record) => record.kind === kind));
    },

    get(kind, id) {
      checkKey(kind, id);
      return run((ctx) => readOne(ctx, kind, id));
    },

    async put(kind, id, value, writeOptions): Promise<StoredRecord> {
      checkKey(kind, id);
      const ifRevision = checkWriteOptions(writeOptions);
      const text = serialise(value);
      const revision = await run((ctx) => writeRecord(ctx, { kind, id, text, ifRevision }));
      // What the store holds (a JSON round trip), not the caller's object.
      return { kind, id, value: JSON.parse(text) as unknown, revision: revision as number };
    },

    delete(kind, id, writeOptions) {
      checkKey(kind, id);
      const ifRevision = checkWriteOptions(writeOptions);
      return run((ctx) => writeRecord(ctx, { kind, id, text: null, ifRevision }));
    },

    watch(handlers) {
      if (closed) throw etcdUnavailable(etcdError('DYNMCP_CLOSED'));
      const entry = { handlers, state: { connected: true } as EtcdFeedState };
      const feed = createEtcdFeed({
        handlers,
        keys,
        logger,
        // A snapshot may be many pages; give each page a little more than a plain call.
        loadSnapshot: () => readRange(context(callTimeoutMs * 2), keys.root),
        openStream: () => context().client.watchClient.watch(),
        onState(state) {
          entry.state = state;
          if (feeds.has(feed)) refresh();
        },
        // Creating a watch is one round trip; allow for a slow link, not for a frozen etcd.
        watchTimeoutMs: callTimeoutMs + keepaliveMs,
        initialBackoffMs: options.initialBackoffMs ?? 200,
        maxBackoffMs: options.maxBackoffMs ?? 5000,
      });
      feeds.set(feed, entry);
      return {
        async close() {
          feeds.delete(feed);
          await feed.close();
          if (!closed) refresh();
        },
      };
    },

    health: () => health.current(),

    close() {
      closing ??= (async () => {
        closed = true;
        const running = [...feeds.keys()];
        feeds.clear();
        await Promise.all(running.map((feed) => feed.close()));
        await opening?.catch(() => {});
        const current = client;
        client = undefined;
        current?.close();
        health.disconnected('closed', { quiet: true });
      })();
      return closing;
    },
  };
}
