/**
 * The metric series fed with a log as it arrives: chunks cut anywhere, a resumed run repeating
 * steps, resuming from a byte offset (test/fixtures/runs/verl-console.log).
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { MetricsStore } from '../../../src/core/runs/metricsStore';

const LOG = readFileSync(path.join(__dirname, '../../fixtures/runs/verl-console.log'), 'utf8');

function whole(text: string): MetricsStore {
  const s = new MetricsStore();
  s.feed(text);
  return s;
}

describe('runs: the metrics store', () => {
  it('reads the fixture log: steps 1-6 in order, the resumed run holding step 5', () => {
    const s = whole(LOG);
    const snap = s.snapshot();
    assert.deepEqual(
      snap.steps.map((x) => x.step),
      [1, 2, 3, 4, 5, 6],
    );
    const five = snap.steps[4];
    assert.equal(five.values['critic/score/mean'], 0.6777, 'the later line (after the resume) holds');
    assert.equal(five.values['actor/is_resumed'], 1);
    const lines = LOG.split('\n');
    assert.match(lines[five.line], /^\(TaskRunner pid=4101\) step:5 - /, 'line: the 0-based index of the line it came from');
    assert.ok(snap.keys.includes('val-core/vstar/acc/mean@1'));
    assert.ok(!snap.keys.includes('perf/min'), 'a key only on the replaced line is gone with it');
    assert.deepEqual(snap.keys, [...snap.keys].sort());
    assert.equal(s.bytesRead, Buffer.byteLength(LOG, 'utf8'));
    assert.equal(s.linesRead, lines.length - 1);
  });

  it('gives the same series whatever the chunks: a short log cut at every position', () => {
    const short = LOG.split('\n').slice(3, 13).join('\n') + '\n'; // multibyte text, \r, both prefixes
    const want = whole(short).snapshot();
    assert.equal(want.steps.length, 2);
    for (let i = 0; i <= short.length; i++) {
      const s = new MetricsStore();
      const got = [...s.feed(short.slice(0, i)), ...s.feed(short.slice(i))];
      assert.deepEqual(s.snapshot(), want, `cut at ${i}`);
      assert.deepEqual(
        got.map((x) => x.step),
        [1, 2],
        `cut at ${i}: each step reported once`,
      );
      assert.equal(s.bytesRead, Buffer.byteLength(short, 'utf8'));
    }
  });

  it('gives the same series fed one character at a time', () => {
    const s = new MetricsStore();
    for (const ch of LOG) s.feed(ch);
    assert.deepEqual(s.snapshot(), whole(LOG).snapshot());
  });

  it('keeps a partial line until its newline; bytesRead stops at the last whole line', () => {
    const s = new MetricsStore();
    const line = '(TaskRunner pid=1) step:9 - actor/acc:0.5 - critic/score/mean:0.25\n';
    assert.deepEqual(s.feed(line.slice(0, 30), 1000), []);
    assert.equal(s.bytesRead, 0);
    const got = s.feed(line.slice(30), 2000);
    assert.equal(got.length, 1);
    assert.equal(got[0].seenAt, 2000, 'seenAt: when the line was complete');
    assert.equal(s.bytesRead, line.length);
    s.feed('step:10 - actor/acc:0.75');
    assert.equal(s.snapshot().steps.length, 1, 'no newline yet');
    assert.deepEqual(
      s.end(3000).map((x) => x.step),
      [10],
      'the log ended: the last line counts',
    );
  });

  it('a progress bar redrawn with \\r for megabytes without a newline: kept short, counted whole', () => {
    const s = new MetricsStore();
    const bar = (i: number) => `\rTraining Progress:  ${i % 100}%|██▌       | ${i}/490`;
    let total = 0;
    for (let i = 0; i < 60000; i++) {
      const c = bar(i);
      total += Buffer.byteLength(c, 'utf8');
      s.feed(c);
    }
    assert.ok(total > 2_000_000);
    assert.ok((s as unknown as { tail: string }).tail.length < 70_000, 'the partial line kept only what follows a recent \\r');
    const last = '\rstep:1 - actor/acc:0.5\n';
    total += Buffer.byteLength(last, 'utf8');
    assert.deepEqual(
      s.feed(last).map((x) => x.values['actor/acc']),
      [0.5],
    );
    assert.equal(s.bytesRead, total);
  });

  it('a chunk repeating steps reports each once, the later line holding', () => {
    const s = new MetricsStore();
    const got = s.feed('step:1 - a:1\nstep:2 - a:2\nstep:1 - a:10\n');
    assert.deepEqual(
      got.map((x) => [x.step, x.values.a]),
      [
        [2, 2],
        [1, 10],
      ],
    );
    s.feed('step:2 - a:20\n');
    assert.deepEqual(
      s.snapshot().steps.map((x) => x.values.a),
      [10, 20],
    );
  });

  it('resumes from a snapshot and its byte offset: the same series as reading it all', () => {
    const full = whole(LOG).snapshot();
    const bytes = Buffer.from(LOG, 'utf8');
    for (const cut of [0, 700, 1901, 4000, bytes.length - 10]) {
      const first = new MetricsStore();
      first.feed(bytes.subarray(0, cut).toString('utf8'));
      const again = new MetricsStore({ metrics: first.snapshot(), bytesRead: first.bytesRead, linesRead: first.linesRead });
      again.feed(bytes.subarray(first.bytesRead).toString('utf8'));
      assert.deepEqual(again.snapshot(), full, `cut at byte ${cut}`);
    }
  });
});
