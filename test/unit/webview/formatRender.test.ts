/**
 * The chat renders a Thyme and a PyVision run without loss: the events the panel's ExchangeRenderer
 * applies for a stored exchange (exchangeEvents, the path of a reopened chat, an eval sample and
 * the dataset viewer) carry every cell with its code, output, error and images and the answer,
 * and the turn text the renderer shows (splitTurn) keeps the model's reasoning, without the code
 * (its cell shows it) and without a "Writing code…" left on a finished reply cut at PyVision's stop
 * string, or a stray `</think>` of a Thyme reply that goes on after the sandbox output.
 * (No DOM in unit tests: the renderer's input is checked, and its text split, which it renders as is.)
 */
import { strict as assert } from 'node:assert';
import { exchangeEvents, exchangeView } from '../../../src/protocol/panelEvents';
import type { PanelEvent } from '../../../src/protocol/chat';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { rowTrajectory } from '../../../src/core/training-data/rowTrajectory';
import { sftRow } from '../../../src/core/training-data/rows';
import { splitTurn } from '../../../src/webview/markdown';
import { pyvisionRun, THYME_RETRY_REPLIES, thymeGolden, thymeRun } from '../data/formatRuns';

type Finished = Extract<PanelEvent, { type: 'exec_end' }>;

/** What the renderer is given for each cell and the answer. */
function rendered(t: Trajectory) {
  const events = exchangeEvents(exchangeView(JSON.parse(JSON.stringify(t)) as Trajectory));
  const cells = events.filter((e): e is Finished => e.type === 'exec_end').map((e) => e.cell);
  return {
    calls: events.flatMap((e) => (e.type === 'tool_call' ? [e.cell.id] : [])),
    cells: cells.map((c) => ({
      id: c.id,
      code: c.code,
      status: c.status,
      stdout: c.stdout,
      error: c.error?.evalue,
      images: c.images.map((i) => i.data),
    })),
    malformed: events.flatMap((e) => (e.type === 'malformed' ? [e.message] : [])),
    answers: events.flatMap((e) => (e.type === 'answer' ? [e.text] : [])),
    texts: events.flatMap((e) => (e.type === 'turn_end' ? [e.content] : [])),
  };
}

function expected(t: Trajectory) {
  const cells = t.turns.flatMap((x) => x.cells);
  return {
    calls: cells.map((c) => c.id),
    cells: cells.map((c) => ({
      id: c.id,
      code: c.code,
      status: c.status,
      stdout: c.stdout,
      error: c.error?.evalue,
      images: c.images.map((i) => i.data),
    })),
    malformed: t.turns.flatMap((x) => x.malformed.map((m) => m.message)),
    answers: [t.answer],
    texts: t.turns.map((x) => x.content),
  };
}

/** The text the renderer shows of a finished turn. */
const shown = (content: string) => splitTurn(content, true);

describe('chat render of Thyme and PyVision runs', () => {
  for (const [name, run] of [
    ['Thyme (golden twoTurns)', () => thymeRun(thymeGolden.twoTurns.replies)],
    ['Thyme (a dropped block, a new generation)', () => thymeRun(THYME_RETRY_REPLIES)],
    ['PyVision (golden sample)', () => pyvisionRun('sample')],
    ['PyVision (golden steps: cut output, error, refusal, figures)', () => pyvisionRun('steps')],
  ] as const) {
    it(`${name}: every cell (code, output, error, images), failed call, reply and the answer reach the renderer`, async () => {
      const { t, made } = await run();
      const r = rendered(t);
      assert.deepEqual(r, expected(t));
      assert.deepEqual(
        r.cells.flatMap((c) => c.images),
        made.map((b) => b.toString('base64')),
        'every image the code made',
      );
      for (const content of r.texts) {
        const segs = shown(content);
        assert.ok(!segs.some((s) => s.kind === 'code-pending'), `no "Writing code…" on a finished reply: ${content.slice(0, 60)}`);
        for (const s of segs) assert.ok(!/<\/?(code|think|answer)>|```/.test(s.text), `no tag or code in the shown text: ${s.text}`);
      }
    });
  }

  it('the turn text keeps the reasoning: PyVision’s reply cut before `</code>`, Thyme’s reply that goes on after the sandbox output', async () => {
    const py = (await pyvisionRun('sample')).t.turns[0].content;
    assert.deepEqual(shown(py), [
      { kind: 'text', text: 'I will find the strongly coloured pixels of the image and look at them closely.' },
    ]);
    assert.deepEqual(splitTurn(py).at(-1), { kind: 'code-pending', text: '' }, 'while it streams the code is still being written');
    const thyme = (await thymeRun(thymeGolden.twoTurns.replies)).t.turns;
    assert.deepEqual(shown(thyme[0].content), [
      { kind: 'think', text: 'The square is too small to see at this scale. I will crop the region the question names and look at it.' },
    ]);
    assert.deepEqual(shown(thyme[1].content), [{ kind: 'think', text: 'In the cropped region the square is red.' }]);
  });

  it('the dataset viewer renders an exported row of each through the same events: its cells, images and answer', async () => {
    for (const { t, made } of [await thymeRun(THYME_RETRY_REPLIES), await pyvisionRun('steps')]) {
      const { messages, images } = sftRow(t);
      const back = rowTrajectory({ messages, images }, 0, 'rows.parquet');
      const r = rendered(back);
      assert.deepEqual(
        r.cells.flatMap((c) => c.images),
        made.map((b) => b.toString('base64')),
      );
      assert.deepEqual(r.answers, [t.answer]);
      assert.equal(r.calls.length, r.cells.length);
    }
  });
});
