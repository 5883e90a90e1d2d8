/**
 * The Jupyter extension's outputs (as vscode-jupyter shapes them, test/fixtures/apiKernel.ts)
 * turned back into the Jupyter messages they came from (src/core/kernel/notebook/api.ts), and
 * read by the collector as the other kernels' messages are.
 */
import { strict as assert } from 'node:assert';
import { CellCollector, RESULT_MIME } from '../../../src/core/kernel/collector';
import { outputToMessage } from '../../../src/core/kernel/notebook';
import type { JupyterMessage } from '../../../src/core/kernel/wire';
import { toApiOutput } from '../../fixtures/apiKernel';
import { encodePng, Raster } from '../../fixtures/images';

const msg = (msg_type: string, content: Record<string, any>): JupyterMessage => ({
  identities: [],
  header: { msg_id: 'm', msg_type, session: 's', username: '', date: '', version: '5.3' },
  parent_header: {},
  metadata: {},
  content,
  buffers: [],
});

/** through the extension's shape and back */
const roundTrip = (m: JupyterMessage) => outputToMessage(toApiOutput(m)!)!;

describe('notebook kernel outputs → Jupyter messages', () => {
  it('streams, errors, tagged images and the prelude record come back as they were sent', () => {
    const png = encodePng(4, 3, new Raster(4, 3).data).toString('base64');
    const record = { kind: 'result', op: 'run', status: 'ok', count: 3, truncated: { stdout: 0, stderr: 0 } };
    const sent = [
      msg('stream', { name: 'stdout', text: 'hello\n' }),
      msg('stream', { name: 'stderr', text: 'careful\n' }),
      msg('display_data', {
        data: { 'image/png': png, 'text/plain': '<Figure>' },
        metadata: { codedance: { kind: 'image', source: 'figure', seq: 1, width: 4, height: 3 } },
      }),
      msg('display_data', { data: { [RESULT_MIME]: record }, metadata: { codedance: { kind: 'result' } } }),
    ];
    const col = new CellCollector(undefined);
    for (const m of sent) col.handle(roundTrip(m));
    assert.equal(col.stdout, 'hello\n');
    assert.equal(col.stderr, 'careful\n');
    assert.deepEqual(col.result, record);
    const [img] = col.orderedImages();
    assert.deepEqual(
      { mime: img.mime, data: img.data, source: img.source, width: img.width, height: img.height },
      { mime: 'image/png', data: png, source: 'figure', width: 4, height: 3 },
    );

    const err = roundTrip(
      msg('error', { ename: 'NameError', evalue: "name 'x' is not defined", traceback: ['\u001b[0;31mNameError\u001b[0m', 'line 1'] }),
    );
    assert.equal(err.header.msg_type, 'error');
    assert.deepEqual(err.content, {
      ename: 'NameError',
      evalue: "name 'x' is not defined",
      traceback: ['\u001b[0;31mNameError\u001b[0m', 'line 1'],
    });
  });

  it('an error item without the original error still gives its name and message; an empty output is no message', () => {
    const item = {
      mime: 'application/vnd.code.notebook.error',
      data: new TextEncoder().encode(JSON.stringify({ name: 'ValueError', message: 'bad', stack: 'a\nb' })),
    };
    assert.deepEqual(outputToMessage({ items: [item] })!.content, { ename: 'ValueError', evalue: 'bad', traceback: ['a', 'b'] });
    assert.equal(outputToMessage({ items: [] }), undefined);
  });

  it('an error item that is not JSON keeps its text as the message (it used to be dropped)', () => {
    const item = { mime: 'application/vnd.code.notebook.error', data: new TextEncoder().encode('Kernel died while running the cell\n') };
    assert.deepEqual(outputToMessage({ items: [item] })!.content, {
      ename: 'Error',
      evalue: 'Kernel died while running the cell',
      traceback: [],
    });
    const nul = { mime: 'application/vnd.code.notebook.error', data: new TextEncoder().encode('null') };
    assert.deepEqual(outputToMessage({ items: [nul] })!.content, { ename: 'Error', evalue: 'null', traceback: [] });
  });
});
