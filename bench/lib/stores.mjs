// Real shared stores for the propagation scenario: a throwaway etcd and MariaDB, each on loopback
// with its own temporary directory and free ports, so a run never touches a real server or another
// run's data (the same recipe as @dynmcp/testing). Missing binaries make the
// store "not available" with the package to install; nothing is installed behind the user's back.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, spawnPinned, waitFor } from './proc.mjs';

function findCommand(name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'].filter(Boolean);
  for (const dir of dirs) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/** Starts etcd (Debian's etcd-server) on loopback; `{ unavailable }` when it is not installed. */
export async function startEtcd({ core }) {
  const etcd = findCommand('etcd');
  if (!etcd) return { unavailable: 'etcd is not installed (apt-get install -y etcd-server)' };
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-bench-etcd-'));
  const client = await freePort();
  const peer = await freePort();
  const proc = spawnPinned(
    core,
    etcd,
    [
      '--data-dir', dir,
      '--listen-client-urls', `http://127.0.0.1:${client}`,
      '--advertise-client-urls', `http://127.0.0.1:${client}`,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `default=http://127.0.0.1:${peer}`,
      '--log-level', 'error',
    ],
    { name: 'etcd' },
  );
  await waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${client}/health`);
      return res.ok && (await res.json()).health === 'true';
    },
    { timeoutMs: 30000, intervalMs: 100, what: 'etcd /health', proc },
  );
  return {
    endpoint: `http://127.0.0.1:${client}`,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function run(file, args) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30000 }, (error, stdout, stderr) => (error ? reject(new Error(stderr.trim() || error.message)) : resolve(stdout)));
  });
}

/**
 * Starts MariaDB (Debian's mariadb-server) on loopback with a `dynmcp` database and password user;
 * `{ unavailable }` when it is not installed.
 */
export async function startMariaDb({ core }) {
  const mariadbd = findCommand('mariadbd');
  const installDb = findCommand('mariadb-install-db');
  const client = findCommand('mariadb');
  if (!mariadbd || !installDb || !client) return { unavailable: 'MariaDB is not installed (apt-get install -y mariadb-server)' };
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-bench-mariadb-'));
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'sock');
  const asRoot = process.getuid?.() === 0;
  const install = spawnSync(
    installDb,
    ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...(asRoot ? ['--user=root'] : [])],
    { encoding: 'utf8', timeout: 60000 },
  );
  if (install.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { unavailable: `mariadb-install-db failed: ${(install.stderr || install.stdout).slice(-300)}` };
  }
  const port = await freePort();
  const proc = spawnPinned(
    core,
    mariadbd,
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${socket}`,
      `--pid-file=${join(dir, 'pid')}`,
      `--log-error=${join(dir, 'error.log')}`,
      '--innodb-buffer-pool-size=64M',
      '--skip-name-resolve',
      ...(asRoot ? ['--user=root'] : []),
    ],
    { name: 'mariadbd' },
  );
  const query = (sql) => run(client, ['--no-defaults', '-uroot', `--socket=${socket}`, `--execute=${sql}`]);
  await waitFor(() => query('SELECT 1').then(() => true), { timeoutMs: 60000, intervalMs: 100, what: 'MariaDB to accept queries', proc });
  // Without dropping the anonymous user, a TCP login from 127.0.0.1 matches ''@'localhost' first.
  await query(`
    CREATE DATABASE dynmcp;
    DROP USER IF EXISTS ''@'localhost';
    DROP USER IF EXISTS ''@'127.0.0.1';
    CREATE USER 'dynmcp'@'localhost' IDENTIFIED BY 'dynmcp';
    CREATE USER 'dynmcp'@'127.0.0.1' IDENTIFIED BY 'dynmcp';
    GRANT ALL ON dynmcp.* TO 'dynmcp'@'localhost';
    GRANT ALL ON dynmcp.* TO 'dynmcp'@'127.0.0.1';
  `);
  return {
    url: `mysql://dynmcp:dynmcp@127.0.0.1:${port}/dynmcp`,
    async stop() {
      await proc.stop('SIGTERM', 20000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
