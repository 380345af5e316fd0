import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '@dynmcp/plugin';
import { parseEnvTemplate, resolveEnvTemplate } from './env-template.js';
import type { TemplateValues } from './env-template.js';

/** Values straight from `source`, no policy: the policy is template-values.ts's, tested there. */
function plain(source: Record<string, string>): TemplateValues {
  return {
    valueOf: ({ source: kind, name }) => {
      const value = source[`${kind}:${name}`];
      return value === undefined ? { ok: false, problem: `${kind} ${name} missing` } : { ok: true, value };
    },
  };
}

describe('env templates', () => {
  it('parses literals, ${env:NAME} and ${secret:NAME} references', () => {
    const template = parseEnvTemplate('Bearer ${env:TOKEN}; v=${secret:api-key.v2}$', 'h');
    assert.deepEqual(template.references, [
      { source: 'env', name: 'TOKEN' },
      { source: 'secret', name: 'api-key.v2' },
    ]);
    assert.deepEqual(template.parts, ['Bearer ', { source: 'env', name: 'TOKEN' }, '; v=', { source: 'secret', name: 'api-key.v2' }, '$']);
  });

  it('refuses malformed references, and secret names that could leave the directory', () => {
    for (const bad of ['${TOKEN}', '${env:}', '${env:A-B}', '${env:TOKEN', 'x ${ y', '${file:x}', '${secret:}']) {
      assert.throws(() => parseEnvTemplate(bad, 'ext_info.headers.X'), GatewayError, bad);
    }
    for (const bad of ['${secret:../etc/passwd}', '${secret:a/b}', '${secret:..}', '${secret:.hidden}', '${secret:..data}']) {
      assert.throws(() => parseEnvTemplate(bad, 'ext_info.headers.X'), /secret:NAME/, bad);
    }
  });

  it('resolves through the given values and reports the first problem', () => {
    const template = parseEnvTemplate('${env:A}-${secret:b}', 'h');
    assert.deepEqual(resolveEnvTemplate(template, plain({ 'env:A': '1', 'secret:b': '2' })), { ok: true, value: '1-2' });
    assert.deepEqual(resolveEnvTemplate(template, plain({ 'env:A': '1' })), { ok: false, problem: 'secret b missing' });
    assert.deepEqual(resolveEnvTemplate(template, plain({})), { ok: false, problem: 'env A missing' });
  });
});
