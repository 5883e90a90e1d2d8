/**
 * The training-data layer's errors are CodeDanceErrors of the right kind, naming the cause, with
 * a fix where the user can act: the adapters word them and pick exit codes by kind (a plain
 * Error would be reported as an internal failure).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CodeDanceError, type ErrorKind } from '../../../src/core/errors';
import { DatasetView } from '../../../src/core/training-data/datasetView';
import { imageBytes, replayPlan } from '../../../src/core/training-data/replayPlan';
import { toSftMessages } from '../../../src/core/protocol/sftText';

function isError(kind: ErrorKind, message: RegExp, fix?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof CodeDanceError, `a CodeDanceError, not ${String(e)}`);
    assert.equal(e.kind, kind);
    assert.match(e.reason, message);
    if (fix) assert.match(e.fix?.text ?? '', fix);
    else assert.equal(e.fix, undefined);
    return true;
  };
}

describe('training-data errors: kind, cause and fix', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'cd-tderr-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('a file that is not parquet: a dataset error naming the file', async () => {
    const f = path.join(tmp, 'cut.parquet');
    writeFileSync(f, 'PAR1 this is not a parquet footer');
    await assert.rejects(
      DatasetView.open(f),
      isError('dataset', /cut\.parquet: not a readable parquet file \(/, /complete \.parquet file/),
    );
  });

  it('a row index out of range: an input error with the valid range', async () => {
    const f = path.join(tmp, 'two.jsonl');
    writeFileSync(
      f,
      `${JSON.stringify({ messages: [{ role: 'user', content: 'a' }] })}\n${JSON.stringify({ messages: [{ role: 'user', content: 'b' }] })}\n`,
    );
    const view = await DatasetView.open(f);
    await assert.rejects(view.row(2), isError('input', /^row 2 is out of range \(0\.\.1\)$/, /from 0 to 1/));
  });

  it('image values: an unreadable file says where relative paths are read from; a bad value says what is accepted', () => {
    assert.throws(
      () => imageBytes('missing.png', path.join(tmp, 'd.parquet')),
      isError(
        'dataset',
        new RegExp(`image file ${path.join(tmp, 'missing.png').replace(/[.\\/]/g, '\\$&')} cannot be read \\(ENOENT\\)`),
        /dataset file's folder/,
      ),
    );
    assert.throws(
      () => imageBytes({ bytes: null, path: null }, tmp),
      isError('dataset', /neither bytes nor path/, /raw bytes, a \{bytes, path\} struct/),
    );
    assert.throws(() => imageBytes(42, tmp), isError('dataset', /unrecognized image value \(number\)/, /data: URL or a file path/));
    assert.throws(() => imageBytes(new Uint8Array(0), tmp), isError('dataset', /the image bytes are empty/));
  });

  it('a row that cannot be replayed: the reason names the message (the error stays inside the plan)', () => {
    const r = replayPlan(3, { messages: [{ role: 'user', content: 7 }] }, path.join(tmp, 'd.jsonl'));
    assert.ok('invalid' in r);
    assert.equal(r.invalid, 'message 0 is number, not text');
  });

  it('an image that is not inline cannot be exported: an input error', () => {
    const messages = [
      { role: 'user' as const, content: [{ type: 'image_url' as const, image_url: { url: 'https://example.com/x.png' } }] },
    ];
    assert.throws(
      () => toSftMessages(messages),
      isError('input', /an image in the messages is not inline \(https:\/\/example\.com\/x\.png…\)/, /data: URL/),
    );
  });
});
