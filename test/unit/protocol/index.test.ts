import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CodeDanceError } from '../../../src/core/errors';
import { createCodedanceProtocol } from '../../../src/core/protocol/codedance';
import { getProtocol, isProtocolId, protocolIds, templateHash } from '../../../src/core/protocol/index';

describe('protocol registry', () => {
  it('lists the formats, codedance first (the default)', () => {
    assert.deepEqual([...protocolIds], ['codedance', 'codedance-tools', 'openai-tools', 'deepeyes', 'pyvision', 'thyme']);
    assert.equal(getProtocol().id, 'codedance');
    for (const id of protocolIds) assert.equal(getProtocol(id).id, id);
    assert.ok(isProtocolId('openai-tools'));
    assert.ok(!isProtocolId('pyvision-x'));
  });

  it('agrees with package.json codedance.model.protocol enum', () => {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
    assert.deepEqual(pkg.contributes.configuration.properties['codedance.model.protocol'].enum, [...protocolIds]);
  });

  it('an unknown id names the known ones', () => {
    assert.throws(
      () => getProtocol('pyvision-x'),
      (e: unknown) =>
        e instanceof CodeDanceError &&
        e.kind === 'config' &&
        e.fix?.setting === 'model.protocol' &&
        /unknown format 'pyvision-x' — use one of codedance, codedance-tools, openai-tools, deepeyes, pyvision, thyme/.test(e.message),
    );
  });

  it('passes per-format options', () => {
    const a = getProtocol('codedance-tools');
    const b = getProtocol('codedance-tools', { 'codedance-tools': { imagesInToolMessage: false } });
    assert.notEqual(templateHash(a), templateHash(b));
  });

  it('templateHash: sha256 hex, stable, distinct per format, and sensitive to every constant', () => {
    const hashes = protocolIds.map((id) => templateHash(getProtocol(id)));
    for (const h of hashes) assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(new Set(hashes).size, protocolIds.length);
    assert.equal(templateHash(getProtocol('codedance')), templateHash(createCodedanceProtocol()));
    const base = createCodedanceProtocol();
    for (const key of Object.keys(base.constants ?? {})) {
      const changed = { ...base, constants: { ...base.constants, [key]: base.constants![key] + ' ' } };
      assert.notEqual(templateHash(changed), templateHash(base), key);
    }
  });

  it('a format without constants still hashes (by id)', () => {
    const h = templateHash({ ...createCodedanceProtocol(), constants: undefined, id: 'tags' });
    assert.match(h, /^[0-9a-f]{64}$/);
  });
});
