// The OpenAPI importer over a real SQLite store and live definitions, where an admin edit can be
// made to land between the importer's read and its write (over HTTP that window is too narrow to
// hit on purpose), and over a datasource without batch().
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { createLiveDefinitions, createSchemaCompiler, type LiveDefinitions } from '@dynmcp/common';
import { createHttpExecutor } from '@dynmcp/core';
import { createSqlDataSource } from '@dynmcp/datasources';
import { isGatewayError, silentLogger, type DataSource } from '@dynmcp/plugin';
import { DEFAULT_IMPORT_LIMITS } from '../openapi/index.js';
import { createAdminService, type AdminService } from './admin-service.js';
import { parseImportRequest } from './import-request.js';
import { createOpenApiImporter } from './openapi-import.js';

const LIMITS = { ...DEFAULT_IMPORT_LIMITS, timeoutMs: 120_000 };

const document = (operations: string[]) => ({
  openapi: '3.1.0',
  info: { title: 'Race', version: '1' },
  paths: Object.fromEntries(operations.map((name) => [`/${name}`, { get: { operationId: name, responses: { '200': { description: 'ok' } } } }])),
});

const request = (operations: string[]) =>
  parseImportRequest({ document: document(operations), instance_id: 'race', base_url: 'https://api.example.com' });

let dir: string;
let store: DataSource;
let definitions: LiveDefinitions;
let service: AdminService;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dynmcp-import-race-'));
  store = createSqlDataSource({ client: 'sqlite', filename: join(dir, 'db.sqlite'), pollIntervalMs: 50, logger: silentLogger });
  await store.open();
  definitions = createLiveDefinitions({ datasource: store, compiler: createSchemaCompiler(), logger: silentLogger });
  await definitions.start();
  const http = createHttpExecutor({ defaultTimeoutMs: 5000, maxResponseBytes: 1 << 20, env: {} });
  service = createAdminService({ datasource: store, definitions, compiler: createSchemaCompiler(), executorFor: (kind) => (kind === 'http' ? http : undefined) });
});

afterEach(async () => {
  await definitions.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('an admin edit of the instance between the import read and its write fails the import with 412; nothing of the import is written', async () => {
  const importer = createOpenApiImporter({ service, datasource: store, definitions, limits: LIMITS });
  await importer(request(['alpha']));
  let armed = true;
  const racing: DataSource = {
    ...store,
    async list(kind) {
      const records = await store.list(kind);
      if (armed) {
        armed = false;
        const instance = (await service.getInstance('race')).record.value;
        await service.putInstance('race', { ...instance, name: 'edited by hand' });
      }
      return records;
    },
  };
  const racingImporter = createOpenApiImporter({ service, datasource: racing, definitions, limits: LIMITS });
  await assert.rejects(racingImporter(request(['alpha', 'beta'])), (error: unknown) => {
    assert.ok(isGatewayError(error));
    assert.equal(error.code, 'PRECONDITION_FAILED');
    assert.equal(error.status, 412);
    return true;
  });
  assert.equal(await store.get('tds', 'race.beta'), undefined);
  const instance = (await service.getInstance('race')).record.value;
  assert.deepEqual([instance.name, instance.tool_ids], ['edited by hand', ['race.alpha']]);
});

test('a datasource without batch(): the import fails with BATCH_UNSUPPORTED (501) and writes nothing', async () => {
  const { batch: _none, ...single } = store;
  const importer = createOpenApiImporter({ service, datasource: { ...single, name: 'file-store' }, definitions, limits: LIMITS });
  await assert.rejects(importer(request(['alpha'])), (error: unknown) => {
    assert.ok(isGatewayError(error));
    assert.equal(error.code, 'BATCH_UNSUPPORTED');
    assert.equal(error.status, 501);
    return true;
  });
  assert.deepEqual(await store.list('tds'), []);
});
