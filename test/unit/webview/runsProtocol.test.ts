/**
 * The run view's protocol (src/protocol/runs.ts): the types are the schemas'; a malformed request
 * is refused at the extension's boundary with the field it got wrong (a PNG that is not a PNG data
 * URL, a file name with a folder, an unknown checkpoint action, an empty export), runs no handler
 * and is answered under its id; the checkpoint evals the webview draws are checked against their
 * schema; a restored panel's saved state is checked the same way; NaN and
 * ±Infinity survive VS Code's JSON messages (src/protocol/nonFinite.ts).
 */
import { strict as assert } from 'node:assert';
import type * as v from 'valibot';
import { routeRequests } from '../../../src/extension/webviewRequests';
import { parseRequest, type Reply } from '../../../src/protocol/messages';
import { decodeNonFinite, encodeNonFinite } from '../../../src/protocol/nonFinite';
import * as valibot from 'valibot';
import {
  CHECKPOINT_ACTIONS,
  checkpointEvalsMessage,
  runsRequest,
  savedRunView,
  type FromRuns,
  type RunsResponses,
} from '../../../src/protocol/runs';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const typesFromSchemas: [Equals<FromRuns, v.InferOutput<typeof runsRequest>>, Equals<keyof RunsResponses, FromRuns['type']>] = [true, true];
// @ts-expect-error a checkpoint action the protocol does not name
const _noSuchAction: FromRuns = { type: 'checkpointAction', id: 'a', run: 'r1', step: 20, action: 'rm -rf' };

const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

function refused(raw: unknown): string {
  const r = parseRequest('run view', runsRequest, raw);
  assert.ok(!r.ok, `should be refused: ${JSON.stringify(raw).slice(0, 200)}`);
  return r.error;
}

describe('run view protocol', () => {
  it('takes the requests the view sends', () => {
    assert.deepEqual(typesFromSchemas, [true, true]);
    const good: unknown[] = [
      { type: 'ready', id: 'a-1' },
      { type: 'addRun', id: 'a-2' },
      { type: 'saveCsv', id: 'a-3', name: 'sa1b-grpo-demo.csv', csv: 'run,step\r\n' },
      { type: 'savePng', id: 'a-4', name: 'x_acc.png', dataUrl: PNG },
      { type: 'rolloutSteps', id: 'a-5', run: 'r1', kind: 'validation' },
      { type: 'rollout', id: 'a-6', run: 'r1', kind: 'train', step: 30, index: 2 },
      { type: 'addToTrainingData', id: 'a-7', run: 'r1', kind: 'train', items: [{ step: 3, index: 0 }] },
      ...CHECKPOINT_ACTIONS.map((action, i) => ({ type: 'checkpointAction', id: `c-${i}`, run: 'r2', step: 20, action })),
    ];
    for (const m of good) assert.ok(parseRequest('run view', runsRequest, m).ok, JSON.stringify(m));
  });

  it('refuses what the extension must not act on, naming the field', () => {
    assert.match(
      refused({ type: 'savePng', id: 'a', name: 'x.png', dataUrl: 'data:text/html;base64,PHNjcmlwdD4=' }),
      /dataUrl: expected a PNG data: URL/,
    );
    assert.match(refused({ type: 'savePng', id: 'a', name: '../../.bashrc', dataUrl: PNG }), /name: expected a plain file name/);
    assert.match(refused({ type: 'saveCsv', id: 'a', name: '/etc/passwd', csv: '' }), /name: expected a plain file name/);
    assert.match(refused({ type: 'checkpointAction', id: 'a', run: 'r1', step: 20, action: 'delete' }), /action: Invalid type/);
    assert.match(refused({ type: 'addToTrainingData', id: 'a', run: 'r1', kind: 'train', items: [] }), /items: Invalid length/);
    assert.match(refused({ type: 'rollout', id: 'a', run: 'r1', kind: 'test', step: 1, index: 0 }), /kind: Invalid type/);
    assert.match(refused({ type: 'rollout', id: 'a', run: 'r1', kind: 'train', step: -1, index: 0 }), /step: Invalid value/);
    assert.match(refused({ type: 'removeRun', id: 'a', run: 'r1; rm' }), /run: expected 1 to 100 word characters/);
  });

  it('a refused request runs no handler and is answered under its id', async () => {
    const replies: Reply[] = [];
    const ran: string[] = [];
    const route = routeRequests<FromRuns, RunsResponses>(
      { what: 'run view', schema: runsRequest, log: { warn: () => undefined, error: () => undefined }, reply: (m) => replies.push(m) },
      new Proxy({} as never, { get: (_t, type: string) => () => void ran.push(type) }),
    );
    await route({ type: 'savePng', id: 'bad-1', name: 'x.png', dataUrl: 'javascript:alert(1)' });
    await route({ type: 'addRun', id: 'ok-1' });
    assert.deepEqual(ran, ['addRun']);
    assert.deepEqual(
      replies.map((r) => [r.replyTo, r.ok]),
      [
        ['bad-1', false],
        ['ok-1', true],
      ],
    );
  });

  it('names the checkpoint actions the run view offers, evaluate and serve among them', () => {
    assert.deepEqual([...CHECKPOINT_ACTIONS], ['copyPath', 'copyMergeCommand', 'evaluate', 'serve']);
  });

  it('checks the checkpoint evals before the webview draws them', () => {
    const ok = {
      type: 'checkpointEvals',
      run: 'r1',
      series: [{ dataset: 'vstar_val', points: [{ step: 20, accuracy: 0.61, n: 300, judged: true }] }],
    };
    assert.ok(valibot.safeParse(checkpointEvalsMessage, ok).success);
    assert.ok(valibot.safeParse(checkpointEvalsMessage, { ...ok, series: [], note: 'checkpoint-evals.json is not JSON' }).success);
    const bad = (series: unknown, why: RegExp) => {
      const r = valibot.safeParse(checkpointEvalsMessage, { ...ok, series });
      assert.ok(!r.success, JSON.stringify(series));
      assert.match(valibot.summarize(r.issues), why);
    };
    const point = ok.series[0].points[0];
    bad([{ dataset: 'v', points: [{ ...point, accuracy: 61 }] }], /accuracy/);
    bad([{ dataset: 'v', points: [{ ...point, step: -1 }] }], /step/);
    bad([{ dataset: 'v', points: [{ ...point, n: 2.5 }] }], /n\b/);
    bad([{ dataset: '', points: [] }], /dataset/);
    bad([{ dataset: 'v', points: [{ ...point, judged: 'yes' }] }], /judged/);
    assert.ok(!valibot.safeParse(checkpointEvalsMessage, { ...ok, run: 'r1<script>' }).success);
  });

  it('a restored panel’s state: the runs it showed, checked', () => {
    const ok = {
      refs: [
        { kind: 'file', path: '/runs/x/logs/run.log' },
        { kind: 'job', cluster: 'hpc', id: '4242', name: 'exp' },
      ],
      x: 'step',
    };
    assert.ok(parseRequest('saved', savedRunView, ok).ok);
    assert.ok(!parseRequest('saved', savedRunView, { refs: [{ kind: 'url', path: 'http://x' }] }).ok);
    assert.ok(!parseRequest('saved', savedRunView, {}).ok);
  });

  it('NaN and ±Infinity survive the JSON of a webview message; strings that look like them stay strings', () => {
    const m = {
      type: 'metrics',
      steps: [{ step: 3, values: { 'actor/pg_loss': NaN, x: Infinity, y: -Infinity, z: 0.5 }, line: 7 }],
      note: 'NaN',
      list: [NaN, 1, 'Infinity'],
    };
    const wire = JSON.parse(JSON.stringify(encodeNonFinite(m)));
    const back = decodeNonFinite(wire) as typeof m;
    assert.ok(Number.isNaN(back.steps[0].values['actor/pg_loss']));
    assert.equal(back.steps[0].values.x, Infinity);
    assert.equal(back.steps[0].values.y, -Infinity);
    assert.equal(back.steps[0].values.z, 0.5);
    assert.equal(back.note, 'NaN');
    assert.ok(Number.isNaN(back.list[0] as number));
    assert.deepEqual(back.list.slice(1), [1, 'Infinity']);
    // without it, JSON would have made them null
    assert.equal(JSON.parse(JSON.stringify(m)).steps[0].values['actor/pg_loss'], null);
  });
});
