import { strict as assert } from 'node:assert';
import { classifyMessages, type ClassifyContext } from '../../../src/core/kernel/classify';
import type { ExecutionResult } from '../../../src/core/kernel/types';
import { fixtureNames, loadFixture } from '../../fixtures/iopub/format';

/** Classifies a recorded fixture with the context the recording ran under. */
function classify(name: string, extra: Partial<ClassifyContext> = {}): ExecutionResult {
  const f = loadFixture(name);
  return classifyMessages(f.messages, f.cellOutcome, {
    timeoutMs: f.timeoutMs ?? 30000,
    graceMs: f.graceMs ?? 3000,
    interruptReason: f.interruptReason,
    durationMs: 12,
    maxOutputBytes: f.maxOutputBytes ?? 1024 * 1024,
    ...extra,
  });
}

const sizes = (r: ExecutionResult) => r.images.map((i) => `${i.source}:${i.mime}:${i.width}x${i.height}`);

/** what each recorded sequence (test/fixtures/iopub/*.json, from record.ts) must classify as */
const EXPECTED: Record<string, (r: ExecutionResult) => void> = {
  'ok-stdout': (r) => {
    assert.equal(r.status, 'ok');
    assert.equal(r.stdout, 'hello\n42\n');
    assert.equal(r.stderr, '');
    assert.deepEqual(r.images, []);
    assert.equal(r.error, undefined);
    assert.equal(r.truncated, undefined);
    assert.equal(r.durationMs, 12);
    assert.equal(typeof r.executionCount, 'number');
  },
  'ok-streamed': (r) => {
    // streamed text and the text held back for the reply join in order
    assert.equal(r.status, 'ok');
    assert.equal(r.stdout, 'first\nsecond\n');
    assert.equal(r.stderr, 'warn\n');
  },
  exception: (r) => {
    assert.equal(r.status, 'error');
    assert.equal(r.error?.ename, 'ZeroDivisionError');
    assert.equal(r.error?.evalue, 'division by zero');
    const tb = r.error!.traceback.join('');
    assert.match(tb, /in f\n/);
    assert.doesNotMatch(tb, /codedance-prelude/, 'the prelude frames are hidden');
  },
  'syntax-error': (r) => {
    assert.equal(r.status, 'error');
    assert.equal(r.error?.ename, 'SyntaxError');
    assert.equal(typeof r.error?.lineno, 'number');
  },
  'plt-show': (r) => {
    assert.equal(r.status, 'ok');
    assert.equal(r.images.length, 1);
    assert.equal(r.images[0].source, 'figure');
    assert.equal(r.images[0].mime, 'image/png');
    assert.ok(r.images[0].width! > 50 && r.images[0].height! > 50);
    assert.equal(Buffer.from(r.images[0].data, 'base64').readUInt32BE(0), 0x89504e47, 'the binary frame is returned as PNG base64');
  },
  'pil-show': (r) => {
    // the seed's small-image guard: a side under 56 px is upscaled so the short side is 112
    assert.deepEqual(sizes(r), ['show:image/png:168x112']);
  },
  'expression-image': (r) => {
    assert.deepEqual(sizes(r), ['expression:image/jpeg:64x64']);
  },
  'image-order': (r) => {
    // captured in the order display, show, figure, expression; returned in the seed's order
    assert.equal(r.status, 'ok');
    assert.deepEqual(
      r.images.map((i) => i.source),
      ['expression', 'figure', 'show', 'display'],
    );
    assert.deepEqual(
      sizes(r).filter((s) => !s.startsWith('figure')),
      ['expression:image/jpeg:90x90', 'show:image/png:80x60', 'display:image/png:70x70'],
    );
  },
  'image-then-error': (r) => {
    // the seed returns no image for a failed cell; UIs still get it
    assert.equal(r.status, 'error');
    assert.equal(r.error?.ename, 'ValueError');
    assert.deepEqual(r.images, []);
    assert.equal(r.droppedImages?.length, 1);
    assert.equal(r.droppedImages?.[0].source, 'figure');
  },
  'image-encode-error': (r) => {
    // JPEG cannot hold 70000 px: the seed only prints to stderr; the model is told which image and why
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.images, []);
    assert.deepEqual(r.imageFailures, [
      { source: 'expression', width: 70000, height: 400, reason: 'encoder error -2 when writing image file' },
    ]);
    assert.match(
      r.stderr,
      /ERROR: Failed to display PIL Image: encoder error -2 when writing image file\n\n\[image of 70000×400 could not be encoded: encoder error -2 when writing image file\]\n$/,
    );
  },
  'image-over-limit': (r) => {
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.images, []);
    assert.equal(r.stdout, 'shown\n');
    assert.equal(r.imageFailures?.length, 1);
    assert.match(
      r.stderr,
      /^\[image of 160×120 could not be encoded: its PNG is [\d,]+ bytes, over the limit of 20,000 bytes per image\]\n$/,
    );
  },
  exit: (r) => {
    assert.equal(r.status, 'ok');
    assert.equal(r.exited, true);
    assert.equal(
      r.stdout,
      'before\n\nNOTE: Code execution was halted by a call to exit() or quit(). Do not use exit() or quit() in your code.',
    );
  },
  'output-cap': (r) => {
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.truncated, { stdout: 4012, stderr: 0 });
    assert.ok(r.stdout.startsWith('x'.repeat(1000)));
    assert.match(r.stdout, /\[output truncated: 4,012 more bytes of stdout were not shown \(limit: 1,000 bytes per cell\)\]\n$/);
  },
  timeout: (r) => {
    assert.equal(r.status, 'timeout');
    assert.equal(r.stderr, '', 'the kernel survived: no restart note');
    assert.deepEqual(r.error, { ename: 'TimeoutError', evalue: 'Code execution timed out after 1.5 seconds', traceback: [] });
    assert.equal(r.stdout, 'start\n');
    assert.equal(r.restarted, undefined);
  },
  cancelled: (r) => {
    assert.equal(r.status, 'cancelled');
    assert.equal(r.error?.ename, 'KeyboardInterrupt');
    assert.equal(r.error?.evalue, 'the cell was cancelled');
  },
  'timeout-killed': (r) => {
    assert.equal(r.status, 'timeout');
    assert.equal(r.restarted, true);
    assert.equal(r.error?.evalue, 'Code execution timed out after 1 seconds');
    assert.match(r.error!.traceback[0], /did not stop within 0.7 s of the interrupt, so the kernel was restarted; variables were lost/);
    // the note every protocol's observation carries (stderr): the model learns its variables are gone
    assert.equal(r.stdout, 'ignored\n');
    assert.match(
      r.stderr,
      /^\[the Python kernel was restarted because the cell did not stop within 0.7 s of the interrupt: every variable, import and figure from earlier cells is gone; define again what you need\]\n$/,
    );
  },
  'run-cell-ok': (r) => {
    // without the do_execute hook the record comes as display_data; the last value is printed
    assert.equal(r.status, 'ok');
    assert.equal(r.stdout, 'via run_cell\ndone\n');
  },
  'run-cell-error': (r) => {
    assert.equal(r.status, 'error');
    assert.equal(r.error?.ename, 'IndexError');
    assert.equal(r.stdout, 'partial\n');
  },
  died: (r) => {
    assert.equal(r.status, 'died');
    assert.equal(r.restarted, true);
    assert.equal(r.error?.ename, 'KernelDied');
    assert.match(r.error!.evalue, /the Python kernel died \(exited with code 3\); it was restarted and variables were lost/);
    assert.equal(r.stdout, 'bye\n');
  },
};

describe('kernel result classification (recorded iopub sequences)', () => {
  it('every recorded fixture has an expectation, and every expectation a fixture', () => {
    assert.deepEqual(fixtureNames().sort(), Object.keys(EXPECTED).sort());
  });

  for (const [name, check] of Object.entries(EXPECTED)) {
    it(name, () => check(classify(name)));
  }

  it("keepImagesOnFailure returns a failed cell's images in `images`", () => {
    const r = classify('image-then-error', { keepImagesOnFailure: true });
    assert.equal(r.images.length, 1);
    assert.equal(r.droppedImages, undefined);
  });

  it('an interrupt the cell did not see (no interruptReason) is an error, not a timeout', () => {
    const r = classify('timeout', { interruptReason: undefined });
    assert.equal(r.status, 'error');
    assert.equal(r.error?.ename, 'KeyboardInterrupt');
  });

  it('a kill for dispose is "cancelled" without a restart; a heartbeat kill says how long it was silent', () => {
    const f = loadFixture('timeout-killed');
    const base = { timeoutMs: 1000, graceMs: 700, durationMs: 1 };
    const exited = f.cellOutcome.kind === 'exited' ? f.cellOutcome : assert.fail('recorded as exited');
    const disposed = classifyMessages(f.messages, { ...exited, killReason: 'dispose' }, base);
    assert.equal(disposed.status, 'cancelled');
    assert.equal(disposed.restarted, false);
    const hb = classifyMessages(f.messages, { ...exited, killReason: 'heartbeat', heartbeatSilenceMs: 12400 }, base);
    assert.equal(hb.status, 'died');
    assert.match(hb.error!.evalue, /stopped answering its heartbeat for 12 s/);
  });
});
