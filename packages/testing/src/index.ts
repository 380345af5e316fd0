// Test harnesses shared by the packages' integration tests. Named exports only.
export { createEtcdServer, freePort, startEtcdServer } from './etcd-server.js';
export type { EtcdKeyValue, EtcdServer, EtcdServerOptions } from './etcd-server.js';
export { startMariaDb } from './mariadb-server.js';
export type { MariaDbOptions, MariaDbServer } from './mariadb-server.js';
export { startTcpProxy } from './tcp-proxy.js';
export type { TcpProxy } from './tcp-proxy.js';
export { makeTestCertificates } from './test-certificates.js';
export type { TestCertificates } from './test-certificates.js';
export { echo, startUpstream } from './test-upstream.js';
export type { TestUpstream, UpstreamHit, UpstreamRoute } from './test-upstream.js';
