/**
 * The switch and the report of the kernel's fast paths (core/kernel/fastPaths.ts): what the
 * prelude prints is read back, and said in one line for the kernel log.
 */
import { strict as assert } from 'node:assert';
import {
  describeFastPaths,
  FAST_PATHS_ENV,
  FAST_PATHS_MARKER,
  fastPathsWanted,
  readFastPathReport,
  withPath,
} from '../../../src/core/kernel/fastPaths';
import { preludeLoader } from '../../../src/core/kernel/incarnation';

describe('kernel fast paths: switch and report', () => {
  it('on by default; the option or the environment switch turns them off (either wins)', () => {
    assert.equal(fastPathsWanted(undefined, {}), true);
    assert.equal(fastPathsWanted(true, {}), true);
    assert.equal(fastPathsWanted(false, {}), false);
    for (const v of ['0', 'false', 'OFF', ' no ']) assert.equal(fastPathsWanted(true, { [FAST_PATHS_ENV]: v }), false, v);
    for (const v of ['1', 'true', '']) assert.equal(fastPathsWanted(undefined, { [FAST_PATHS_ENV]: v }), true, v);
  });

  it("reads the prelude loader's report line, and nothing else", () => {
    const report = { versions: { ipykernel: '6.17.0' }, on: ['fast_dates'], off: { busy: 'not asked for' } };
    assert.deepEqual(readFastPathReport(`noise\n${FAST_PATHS_MARKER}${JSON.stringify(report)}\n`), report);
    assert.equal(readFastPathReport('nothing here\n'), undefined);
    assert.equal(readFastPathReport(`${FAST_PATHS_MARKER}{not json`), undefined);
    assert.equal(readFastPathReport(`${FAST_PATHS_MARKER}null`), undefined);
    const loader = preludeLoader({
      workdir: '/w',
      memoryLimitMb: null,
      maxOutputBytes: 1,
      expressionImageFormat: 'jpeg',
      orphanCleanup: [],
      watchParent: false,
      fastPaths: false,
    });
    assert.ok(loader.includes(`print(${JSON.stringify(FAST_PATHS_MARKER)}`), 'the loader prints it');
  });

  it('says in one line which paths are on, and why the others are off (same reasons together), with the versions', () => {
    const r = withPath(
      {
        versions: { ipykernel: '7.0.1', pyzmq: null },
        on: ['fast_dates'],
        off: {
          direct_execute: 'ipykernel 7.0.1 is not a version it was tested with (6.17)',
          busy: 'ipykernel 7.0.1 is not a version it was tested with (6.17)',
        },
      },
      'ws_frames',
      ['ws', '8.23.0'],
      undefined,
    );
    assert.equal(
      describeFastPaths(r),
      'fast paths on: fast_dates, ws_frames; off: direct_execute, busy — ipykernel 7.0.1 is not a version it was tested with (6.17) [ipykernel 7.0.1, pyzmq unknown, ws 8.23.0]',
    );
    const off = withPath({ versions: {}, on: [], off: {} }, 'ws_frames', undefined, 'turned off');
    assert.equal(describeFastPaths(off), 'fast paths on: none; off: ws_frames — turned off');
  });
});
