import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '@dynmcp/plugin';
import { DEFAULT_MYSQL_LIMITS, isConnectionGone, mysqlKnexConfig, parseMysqlUrl } from './sql-knex-config.js';

test('a MySQL URL becomes a mysql2 connection object: decoded credentials, IPv6 hosts, JSON options', () => {
  assert.deepEqual(parseMysqlUrl('mysql://app:p%40ss%3Aword@db.internal:3307/dyn%5Fmcp'), {
    host: 'db.internal',
    port: 3307,
    user: 'app',
    password: 'p@ss:word',
    database: 'dyn_mcp',
  });
  assert.deepEqual(parseMysqlUrl('mariadb://[::1]/x?ssl={"rejectUnauthorized":false}&connectTimeout=2000&timezone=Z'), {
    host: '::1',
    port: 3306,
    database: 'x',
    ssl: { rejectUnauthorized: false },
    connectTimeout: 2000,
    timezone: 'Z',
  });
  for (const bad of ['postgres://u:secret@h/db', 'not a url with secret']) {
    assert.throws(() => parseMysqlUrl(bad), (error: Error) => error instanceof TypeError && !error.message.includes('secret'));
  }
});

test('the knex config sets utf8mb4, big numbers, time limits and a pool of at least 2; URL options win', () => {
  const config = mysqlKnexConfig('mysql://u:p@h/d?charset=latin1', { ...DEFAULT_MYSQL_LIMITS, poolMax: 1, connectTimeoutMs: 1234 }, silentLogger);
  assert.equal(config.client, 'mysql2');
  assert.deepEqual(config.connection, {
    charset: 'latin1',
    supportBigNumbers: true,
    connectTimeout: 1234,
    host: 'h',
    port: 3306,
    user: 'u',
    password: 'p',
    database: 'd',
  });
  assert.equal(config.pool?.max, 2);
  assert.equal(config.acquireConnectionTimeout, DEFAULT_MYSQL_LIMITS.acquireTimeoutMs);
  assert.equal((mysqlKnexConfig({ host: 'h' }, DEFAULT_MYSQL_LIMITS, silentLogger).connection as { charset: string }).charset, 'utf8mb4');
});

test('dead connections are told apart from time-outs and query errors', () => {
  for (const code of ['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ER_CONNECTION_KILLED']) assert.equal(isConnectionGone({ code }), true, code);
  assert.equal(isConnectionGone({ fatal: true, message: "Can't add new command when connection is in closed state" }), true);
  for (const code of ['PROTOCOL_SEQUENCE_TIMEOUT', 'ETIMEDOUT', 'ER_LOCK_WAIT_TIMEOUT', 'ER_PARSE_ERROR']) assert.equal(isConnectionGone({ code, fatal: true }), false, code);
  assert.equal(isConnectionGone(new Error('x')), false);
  assert.equal(isConnectionGone(undefined), false);
});
