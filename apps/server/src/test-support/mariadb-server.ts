// The MariaDB test harness and the TCP proxy live in packages/common/src/test-support, outside both
// packages' builds and public surfaces. They are loaded here by URL at run time (tests run through
// tsx), because a static import would pull another package's sources into this package's program
// (tsc TS6059, rootDir src); the etcd harness does the same. The interfaces below mirror the parts
// these tests use.

/** A throwaway MariaDB on a free loopback port (see the harness for details). */
export interface MariaDbServer {
  readonly url: string;
  readonly port: number;
  readonly socket: string;
  readonly user: string;
  urlFor(database: string): string;
  createDatabase(name?: string): Promise<string>;
  query(sql: string): Promise<string[][]>;
  killConnections(): Promise<number>;
  stop(): Promise<void>;
  start(): Promise<void>;
  kill(): Promise<void>;
  freeze(): void;
  thaw(): void;
  readonly running: boolean;
  cleanup(): Promise<void>;
}

/** A loopback TCP proxy a test can cut, to partition one replica from the database. */
export interface TcpProxy {
  readonly port: number;
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}

const MARIADB = new URL('../../../../packages/common/src/test-support/mariadb-server.ts', import.meta.url);
const PROXY = new URL('../../../../packages/common/src/test-support/tcp-proxy.ts', import.meta.url);

/** Installs and starts a fresh MariaDB with a `dynmcp` database and user; fails loudly without MariaDB. */
export async function startMariaDb(): Promise<MariaDbServer> {
  const harness = (await import(MARIADB.href)) as { startMariaDb(): Promise<MariaDbServer> };
  return harness.startMariaDb();
}

/** Forwards a free loopback port to `targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const harness = (await import(PROXY.href)) as { startTcpProxy(port: number): Promise<TcpProxy> };
  return harness.startTcpProxy(targetPort);
}
