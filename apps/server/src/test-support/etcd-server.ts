// The etcd test harness is packages/common/src/test-support/etcd-server.ts, outside both packages'
// builds and public surfaces. It is loaded here by URL at run time (tests run through tsx), because a
// static import would pull another package's sources into this package's program (tsc TS6059,
// rootDir src). The interface below mirrors the part of the harness these tests use.

/** A test etcd on free loopback ports (see the harness for details). */
export interface EtcdServer {
  readonly endpoint: string;
  readonly dataDir: string;
  readonly pid: number | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  freeze(): void;
  thaw(): void;
  put(key: string, value: string): Promise<number>;
  del(key: string): Promise<void>;
  get(prefix: string): Promise<Array<{ key: string; value: string; modRevision: number; createRevision: number }>>;
  revision(): Promise<number>;
  compact(revision: number): Promise<void>;
  logTail(lines?: number): string;
  close(): Promise<void>;
}

interface Harness {
  createEtcdServer(): Promise<EtcdServer>;
  startEtcdServer(): Promise<EtcdServer>;
}

const HARNESS = new URL('../../../../packages/common/src/test-support/etcd-server.ts', import.meta.url);

async function harness(): Promise<Harness> {
  return (await import(HARNESS.href)) as Harness;
}

/** An etcd prepared but not started (for "gateway started before etcd"). */
export async function createEtcdServer(): Promise<EtcdServer> {
  return (await harness()).createEtcdServer();
}

/** A running, healthy etcd. */
export async function startEtcdServer(): Promise<EtcdServer> {
  return (await harness()).startEtcdServer();
}
