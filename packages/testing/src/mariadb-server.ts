import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// A throwaway MariaDB for integration tests, isolated from any real server: its own data directory,
// socket and loopback port, started and stopped by PID. Never skipped: a machine without
// MariaDB fails loudly, naming the package to install.

/** A running (or stopped) test MariaDB. */
export interface MariaDbServer {
  /** `mysql://dynmcp:dynmcp@127.0.0.1:<port>/dynmcp`: the app user over TCP. */
  readonly url: string;
  readonly port: number;
  /** Unix socket of the root account, for {@link MariaDbServer.query}. */
  readonly socket: string;
  readonly dataDir: string;
  /** The app user that every URL names; {@link MariaDbServer.killConnections} targets it. */
  readonly user: string;
  /** URL of another database, same server and user. */
  urlFor(database: string): string;
  /** Creates a fresh database (`dynmcp_<n>` unless named) and resolves with its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Runs SQL as root through the `mariadb` client over the socket; resolves with its tab-separated rows. */
  query(sql: string): Promise<string[][]>;
  /** Kills every connection of the app user (`KILL CONNECTION`); resolves with how many. */
  killConnections(): Promise<number>;
  /** Graceful stop (SIGTERM), resolved once the process exited. */
  stop(): Promise<void>;
  /** Starts again on the same data directory and port; resolves once it accepts queries. */
  start(): Promise<void>;
  /** SIGKILL, resolved once the process exited (crash recovery happens on the next start). */
  kill(): Promise<void>;
  /** SIGSTOP: the server hangs with its sockets open, as a frozen host would. */
  freeze(): void;
  /** SIGCONT after {@link MariaDbServer.freeze}. */
  thaw(): void;
  readonly running: boolean;
  /** Stops the server and deletes its directory. */
  cleanup(): Promise<void>;
}

/** Options of {@link startMariaDb}. */
export interface MariaDbOptions {
  /** How long one start may take before it fails, default 30 s. */
  startTimeoutMs?: number;
}

const USER = 'dynmcp';
const PASSWORD = 'dynmcp';
const DATABASE = 'dynmcp';
const SEARCH_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Finds a command on PATH or in the sbin directories (mariadbd lives in /usr/sbin). */
function findCommand(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...SEARCH_DIRS].filter((dir) => dir !== '');
  for (const dir of dirs) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new Error(
    `MariaDB integration tests need "${name}", which is not installed: apt-get install -y mariadb-server ` +
      '(node scripts/test.mjs installs it when run as root)',
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

function run(file: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(new Error(`${file} failed: ${stderr.trim() || error.message}`), { cause: error }));
      else resolve(stdout);
    });
  });
}

const alive = new Set<ChildProcess>();
const directories = new Set<string>();
// A test file that crashes must not leave a server (or its 100 MB directory) behind.
process.once('exit', () => {
  for (const child of alive) child.kill('SIGKILL');
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

/**
 * Installs a fresh MariaDB into a temporary directory, starts it on a free loopback port, creates
 * the `dynmcp` database and a password user for TCP, and resolves once it accepts queries.
 * Share one per test file (a start takes a few seconds) and {@link MariaDbServer.createDatabase}
 * per test where isolation matters.
 */
export async function startMariaDb(options: MariaDbOptions = {}): Promise<MariaDbServer> {
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const mariadbd = findCommand('mariadbd');
  const installDb = findCommand('mariadb-install-db');
  const client = findCommand('mariadb');
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-mariadb-'));
  directories.add(dir);
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'mariadb.sock');
  const errorLog = join(dir, 'error.log');
  const asRoot = process.getuid?.() === 0;
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let databases = 0;

  const logTail = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8').split('\n').slice(-15).join('\n') : '(no error log)');

  async function query(sql: string, options: { force?: boolean } = {}): Promise<string[][]> {
    const args = ['--no-defaults', '-uroot', `--socket=${socket}`, '--batch', '--skip-column-names', '--raw'];
    if (options.force) args.push('--force');
    const out = await run(client, [...args, `--execute=${sql}`]);
    return out
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split('\t'));
  }

  async function start(): Promise<void> {
    if (child !== undefined) return;
    const args = [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${socket}`,
      `--pid-file=${join(dir, 'mariadb.pid')}`,
      `--log-error=${errorLog}`,
      // Small and quick: tests need neither durability on power loss nor a big buffer pool.
      '--innodb-buffer-pool-size=32M',
      '--innodb-flush-log-at-trx-commit=2',
      '--skip-name-resolve',
      ...(asRoot ? ['--user=root'] : []),
    ];
    const started = spawn(mariadbd, args, { stdio: 'ignore' });
    child = started;
    alive.add(started);
    exited = new Promise<void>((resolve) =>
      started.once('exit', () => {
        alive.delete(started);
        if (child === started) child = undefined;
        resolve();
      }),
    );
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (child !== started) throw new Error(`mariadbd exited during start:\n${logTail()}`);
      try {
        await query('SELECT 1');
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          started.kill('SIGKILL');
          throw new Error(`mariadbd did not accept queries within ${startTimeoutMs} ms:\n${logTail()}`, { cause: error });
        }
        await sleep(100);
      }
    }
  }

  /** Blocks until every thread of `pid` is in the stopped state (at most 2 s). */
  function waitStopped(pid: number): void {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 2000;
    const stopped = () => {
      try {
        return readdirSync(`/proc/${pid}/task`).every((task) => {
          const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
          return /^[tT]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
        });
      } catch {
        return true; // gone
      }
    };
    while (!stopped() && Date.now() < deadline) Atomics.wait(pause, 0, 0, 5);
  }

  async function signal(name: NodeJS.Signals): Promise<void> {
    const running = child;
    if (running === undefined) return;
    // A frozen server would hold a SIGTERM until thawed.
    running.kill('SIGCONT');
    running.kill(name);
    // A shutdown that hangs must not hang the test file.
    const timer = setTimeout(() => running.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }

  const urlFor = (database: string) => `mysql://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;

  try {
    await run(
      installDb,
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...(asRoot ? ['--user=root'] : []),
      ],
      120_000,
    );
    await start();
    // The anonymous ''@'localhost' would match a TCP login from 127.0.0.1 first and refuse it.
    // The grant covers every `dynmcp…` database, so tests can create their own.
    await query(`
      CREATE DATABASE ${DATABASE};
      DROP USER IF EXISTS ''@'localhost';
      DROP USER IF EXISTS ''@'127.0.0.1';
      CREATE USER '${USER}'@'localhost' IDENTIFIED BY '${PASSWORD}';
      CREATE USER '${USER}'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}';
      GRANT ALL ON \`dynmcp%\`.* TO '${USER}'@'localhost';
      GRANT ALL ON \`dynmcp%\`.* TO '${USER}'@'127.0.0.1';
    `);
  } catch (error) {
    await signal('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    directories.delete(dir);
    throw error;
  }

  return {
    url: urlFor(DATABASE),
    port,
    socket,
    dataDir,
    user: USER,
    urlFor,
    async createDatabase(name) {
      databases += 1;
      const database = name ?? `dynmcp_${databases}`;
      if (!/^dynmcp\w*$/.test(database)) throw new Error(`test databases are named dynmcp…, not ${database}`);
      await query(`CREATE DATABASE \`${database}\``);
      return urlFor(database);
    },
    query,
    async killConnections() {
      const ids = (await query(`SELECT id FROM information_schema.PROCESSLIST WHERE user = '${USER}'`)).map((row) => Number(row[0]));
      if (ids.length === 0) return 0;
      // All in one client run, so no connection survives long enough to be handed out between two
      // kills; --force: one that ended by itself meanwhile (unknown id) does not stop the rest.
      await query(ids.map((id) => `KILL CONNECTION ${id};`).join(' '), { force: true }).catch(() => undefined);
      return ids.length;
    },
    stop: () => signal('SIGTERM'),
    start,
    kill: () => signal('SIGKILL'),
    freeze() {
      const running = child;
      if (running?.pid === undefined) return;
      running.kill('SIGSTOP');
      // A thread busy in the kernel stops only when it returns to user mode: wait until every thread
      // of the server is stopped, so no query sent after freeze() is answered.
      waitStopped(running.pid);
    },
    thaw: () => void child?.kill('SIGCONT'),
    get running() {
      return child !== undefined;
    },
    async cleanup() {
      await signal('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
      directories.delete(dir);
    },
  };
}
