import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '@dynmcp/plugin';
import { parseEnvTemplate, resolveEnvTemplate } from './env-template.js';

describe('env templates', () => {
  it('parses literals and references', () => {
    const template = parseEnvTemplate('Bearer ${env:TOKEN}; v=${env:V}$', 'h');
    assert.deepEqual(template.names, ['TOKEN', 'V']);
    assert.deepEqual(template.parts, ['Bearer ', { env: 'TOKEN' }, '; v=', { env: 'V' }, '$']);
  });

  it('refuses malformed references', () => {
    for (const bad of ['${TOKEN}', '${env:}', '${env:A-B}', '${env:TOKEN', 'x ${ y']) {
      assert.throws(() => parseEnvTemplate(bad, 'ext_info.headers.X'), GatewayError, bad);
    }
  });

  it('resolves against the given source and names the first missing variable', () => {
    const template = parseEnvTemplate('${env:A}-${env:B}', 'h');
    assert.deepEqual(resolveEnvTemplate(template, { A: '1', B: '2' }), { ok: true, value: '1-2' });
    assert.deepEqual(resolveEnvTemplate(template, { A: '1' }), { ok: false, missing: 'B' });
    assert.deepEqual(resolveEnvTemplate(template, { A: '', B: '2' }), { ok: false, missing: 'A' });
  });
});
