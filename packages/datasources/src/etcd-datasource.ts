import { readFile } from 'node:fs/promises';
import type { Etcd3, IOptions } from 'etcd3';
import type { DataSource } from '@dynmcp/plugin';
import { describeEtcdError, etcdError } from './etcd-errors.js';
import { createEtcdFeed } from './etcd-feed.js';
import { createEtcdKeys, ETCD_KEY_RULES } from './etcd-keys.js';
import { createEtcdReplicaStore } from './etcd-replicas.js';
import { pruneHistory, readAudit, readHistory } from './etcd-history.js';
import { probe, readOne, readRange, writeBatch, writeRecord, type EtcdCallContext } from './etcd-records.js';
import { createStoreDataSource, type StoreOptions } from './store-data-source.js';

/** Options of {@link createEtcdDataSource}. */
export interface EtcdDataSourceOptions extends StoreOptions {
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
      // Without keepalive a frozen etcd is never noticed: no call fails and the watch stays silent.
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
  const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
  const now = options.now ?? Date.now;
  const context = (client: Etcd3, timeoutMs = callTimeoutMs): EtcdCallContext => ({ client, keys, logger, timeoutMs, now });

  return createStoreDataSource<Etcd3>({
    name: 'etcd',
    logger,
    now,
    keyRules: ETCD_KEY_RULES,
    describeError: describeEtcdError,
    lifecycleError: etcdError,
    openedLog: { prefix: keys.root, keepaliveMs },

    async connect() {
      const etcd3 = await import('etcd3').catch((error: unknown) => {
        throw etcdError('DYNMCP_NO_DRIVER', error);
      });
      return new etcd3.Etcd3(await clientOptions(options, callTimeoutMs));
    },
    // One read proves the store answers and the credentials work; etcd3 itself connects lazily.
    async prepare(client) {
      await probe(context(client));
    },
    release: async (client) => client.close(),

    list: async (client, kind) => (await readRange(context(client), keys.kindPrefix(kind))).records.filter((record) => record.kind === kind),
    get: (client, kind, id) => readOne(context(client), kind, id),
    write: (client, write) => writeRecord(context(client), write),
    writeBatch: (client, writes) => writeBatch(context(client), writes),
    currentRevision: (client) => probe(context(client)),
    history: (client, kind, id, limit) => readHistory(context(client), kind, id, limit),
    audit: (client, since, limit) => readAudit(context(client), since, limit),
    // A scan of every entry: give it the time of a snapshot.
    pruneHistory: (client, retention) => pruneHistory(context(client, callTimeoutMs * 2), retention),
    replicas: createEtcdReplicaStore({ keys, logger, timeoutMs: callTimeoutMs }),

    watch: ({ handlers, client, onState }) =>
      createEtcdFeed({
        handlers,
        keys,
        logger,
        // A snapshot may be many pages; give each page a little more than a plain call.
        loadSnapshot: () => readRange(context(client(), callTimeoutMs * 2), keys.root),
        openStream: () => client().watchClient.watch(),
        onState,
        // Creating a watch is one round trip; allow for a slow link, not for a frozen etcd.
        watchTimeoutMs: callTimeoutMs + keepaliveMs,
        initialBackoffMs: options.initialBackoffMs ?? 200,
        maxBackoffMs: options.maxBackoffMs ?? 5000,
      }),
  }, options);
}
