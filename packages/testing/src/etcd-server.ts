import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

// A real etcd for integration tests, isolated from any real cluster: Debian's etcd-server on free
// loopback ports with its own data directory. Tests that use it fail (never skip) when the binary
// is missing: `scripts/test.mjs` installs it, and a missing etcd must not look like a green run.

const execFileAsync = promisify(execFile);
const HEALTH_TIMEOUT_MS = 20_000;

/** One key of `etcdctl get -w json`, decoded. */
export interface EtcdKeyValue {
  key: string;
  value: string;
  modRevision: number;
  createRevision: number;
}

/** A test etcd. Ports and data directory stay the same across `kill()`/`start()`. */
export interface EtcdServer {
  /** Client URL, e.g. `http://127.0.0.1:23790`. */
  readonly endpoint: string;
  readonly dataDir: string;
  /** PID of the running etcd, or `undefined` while it is not running. */
  readonly pid: number | undefined;
  /** Starts etcd (again, on the same data dir) and waits until `endpoint health` succeeds. */
  start(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit: an outage as abrupt as a crash. */
  kill(): Promise<void>;
  /** `kill()` then `start()`. */
  restart(): Promise<void>;
  /** SIGSTOP: the process keeps its sockets but answers nothing (only keepalive notices). */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** `etcdctl put key value`; resolves with the revision after the write. */
  put(key: string, value: string): Promise<number>;
  /** `etcdctl del key`. */
  del(key: string): Promise<void>;
  /** `etcdctl get --prefix prefix`, decoded. */
  get(prefix: string): Promise<EtcdKeyValue[]>;
  /** The store's current revision. */
  revision(): Promise<number>;
  /** `etcdctl compact rev` (physically, so the history is gone when it resolves). */
  compact(revision: number): Promise<void>;
  /** Runs etcdctl with these arguments against this server; resolves with stdout. */
  etcdctl(...args: string[]): Promise<string>;
  /** The tail of etcd's own log, for failure messages. */
  logTail(lines?: number): string;
  /** Kills etcd if running and deletes the data directory. */
  close(): Promise<void>;
}

/** Options of {@link createEtcdServer}. */
export interface EtcdServerOptions {
  /**
   * etcd's `--grpc-keepalive-min-time`: clients pinging more often are disconnected. Default 500 ms,
   * so tests can use a 1 s client keepalive (etcd's own default is 5 s).
   */
  keepaliveMinTimeMs?: number;
  /** Extra etcd flags. */
  args?: string[];
  /** Serve clients over TLS with these files, requiring client certificates signed by the CA. */
  tls?: { caFile: string; certFile: string; keyFile: string; clientCertFile: string; clientKeyFile: string };
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

// If the test process dies without its `after` hooks, do not leave etcd servers behind.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** A free TCP port on 127.0.0.1 (released before it is returned; etcd binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function assertInstalled(): void {
  for (const command of ['etcd', 'etcdctl']) {
    const found = spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
    if (!found) {
      throw new Error(
        `${command} is not installed; the etcd integration tests need Debian's etcd-server and etcd-client ` +
          '(apt-get install -y etcd-server etcd-client, or run node scripts/test.mjs, which installs them)',
      );
    }
  }
}

/**
 * Prepares an etcd on two free loopback ports with a fresh data directory, without starting it
 * (for "gateway started before etcd"); call `start()`. Throws when etcd is not installed.
 */
export async function createEtcdServer(options: EtcdServerOptions = {}): Promise<EtcdServer> {
  assertInstalled();
  installExitHook();
  const root = mkdtempSync(join(tmpdir(), 'dynmcp-etcd-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'etcd.log');
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const tls = options.tls;
  const endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  const tlsArgs = tls
    ? ['--cert-file', tls.certFile, '--key-file', tls.keyFile, '--trusted-ca-file', tls.caFile, '--client-cert-auth']
    : [];
  // etcdctl talks to a TLS etcd with the client certificate.
  const ctlTls = tls ? ['--cacert', tls.caFile, '--cert', tls.clientCertFile, '--key', tls.clientKeyFile] : [];
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'default',
    '--data-dir', dataDir,
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `default=${peer}`,
    '--grpc-keepalive-min-time', `${options.keepaliveMinTimeMs ?? 500}ms`,
    '--logger', 'zap',
    '--log-level', 'warn',
    ...tlsArgs,
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<unknown> = Promise.resolve();

  async function etcdctl(...ctlArgs: string[]): Promise<string> {
    const { stdout } = await execFileAsync('etcdctl', ['--endpoints', endpoint, ...ctlTls, '--command-timeout=5s', ...ctlArgs], {
      env: { ...process.env, ETCDCTL_API: '3' },
      timeout: 10_000,
    });
    return stdout;
  }

  async function healthy(): Promise<boolean> {
    try {
      await execFileAsync('etcdctl', ['--endpoints', endpoint, ...ctlTls, '--command-timeout=1s', 'endpoint', 'health'], {
        env: { ...process.env, ETCDCTL_API: '3' },
        timeout: 5_000,
      });
      return true;
    } catch {
      return false;
    }
  }

  function logTail(lines = 20): string {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async function waitExit(signal: NodeJS.Signals): Promise<void> {
    const current = child;
    if (current === undefined) return;
    if (current.exitCode === null && current.signalCode === null) {
      // A frozen process cannot act on SIGTERM; wake it first.
      current.kill('SIGCONT');
      current.kill(signal);
    }
    await exited;
    child = undefined;
  }

  const server: EtcdServer = {
    endpoint,
    dataDir,
    get pid() {
      return child?.pid;
    },
    async start() {
      if (child !== undefined) throw new Error('etcd is already running');
      mkdirSync(dataDir, { recursive: true });
      const log = openSync(logFile, 'a');
      const started = spawn('etcd', args, { stdio: ['ignore', log, log] });
      closeSync(log);
      child = started;
      running.add(started);
      exited = new Promise<void>((resolve) =>
        started.once('exit', () => {
          running.delete(started);
          resolve();
        }),
      );
      const spawnError = once(started, 'error').then(([error]) => error as Error);
      const deadline = Date.now() + HEALTH_TIMEOUT_MS;
      for (;;) {
        const failed = await Promise.race([spawnError, sleep(100).then(() => undefined)]);
        if (failed) throw new Error(`etcd did not start: ${failed.message}`);
        if (started.exitCode !== null || started.signalCode !== null) {
          child = undefined;
          throw new Error(`etcd exited during start-up (${started.exitCode ?? started.signalCode}):\n${logTail()}`);
        }
        if (await healthy()) return;
        if (Date.now() > deadline) {
          await waitExit('SIGKILL');
          throw new Error(`etcd was not healthy within ${HEALTH_TIMEOUT_MS} ms:\n${logTail()}`);
        }
      }
    },
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    async restart() {
      await waitExit('SIGKILL');
      await server.start();
    },
    freeze() {
      child?.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
    async put(key, value) {
      await etcdctl('put', '--', key, value);
      return server.revision();
    },
    async del(key) {
      await etcdctl('del', '--', key);
    },
    async get(prefix) {
      const out = JSON.parse(await etcdctl('get', '--prefix', '-w', 'json', '--', prefix)) as {
        kvs?: Array<{ key: string; value?: string; mod_revision: number; create_revision: number }>;
      };
      return (out.kvs ?? []).map((kv) => ({
        key: Buffer.from(kv.key, 'base64').toString('utf8'),
        value: Buffer.from(kv.value ?? '', 'base64').toString('utf8'),
        modRevision: Number(kv.mod_revision),
        createRevision: Number(kv.create_revision),
      }));
    },
    async revision() {
      const out = JSON.parse(await etcdctl('get', '-w', 'json', '--', '/dynmcp-harness-probe')) as {
        header: { revision: number };
      };
      return Number(out.header.revision);
    },
    async compact(revision) {
      await etcdctl('compact', '--physical', String(revision));
    },
    etcdctl,
    logTail,
    async close() {
      await waitExit('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    },
  };
  return server;
}

/** {@link createEtcdServer} and `start()`: a running etcd, healthy. */
export async function startEtcdServer(options: EtcdServerOptions = {}): Promise<EtcdServer> {
  const server = await createEtcdServer(options);
  try {
    await server.start();
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}
