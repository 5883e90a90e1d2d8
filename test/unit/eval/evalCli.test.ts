/** `codedance eval` helpers: the seed's flag spellings and the live progress line. */
import { strict as assert } from 'node:assert';
import { mathLine, normalizeArgv, progressLine, runEvalCli, skippedLine } from '../../../src/cli/eval';

describe('codedance eval CLI helpers', () => {
  it('accepts the seed flag spellings (underscores, with or without =)', () => {
    assert.deepEqual(
      normalizeArgv([
        '--model_name',
        'm',
        '--api_url=http://a/v1,http://b/v1',
        '--num_workers',
        '4',
        '--data_path',
        'x.parquet',
        '--save_path',
        's',
        '--data_source',
        'vstar',
        '--eval_model_name',
        'q',
        '--limit',
        '3',
      ]),
      [
        '--model-name',
        'm',
        '--api-url=http://a/v1,http://b/v1',
        '--num-workers',
        '4',
        '--data-path',
        'x.parquet',
        '--save-path',
        's',
        '--data-source',
        'vstar',
        '--eval-model-name',
        'q',
        '--limit',
        '3',
      ],
    );
  });

  it('prints done/total, accuracy so far, errors, rate and ETA', () => {
    const line = progressLine({
      total: 100,
      done: 40,
      resumed: 10,
      correct: 30,
      scored: 40,
      errors: 2,
      skipped: 0,
      inFlight: 8,
      rate: 2.5,
      etaSeconds: 24,
      elapsedSeconds: 12,
    });
    assert.equal(line, 'eval 40/100  acc 75.0% (30/40)  errors 2  2.50 samples/s  ETA 0:24  running 8');
    assert.match(
      progressLine({
        total: 5,
        done: 0,
        resumed: 0,
        correct: 0,
        scored: 0,
        errors: 0,
        skipped: 0,
        inFlight: 0,
        rate: 0,
        etaSeconds: undefined,
        elapsedSeconds: 0,
      }),
      /acc -- .*ETA --:--/,
    );
    assert.match(
      progressLine({
        total: 9000,
        done: 1,
        resumed: 0,
        correct: 1,
        scored: 1,
        errors: 0,
        skipped: 3,
        inFlight: 1,
        rate: 1,
        etaSeconds: 3725,
        elapsedSeconds: 1,
      }),
      /errors 0  skipped 3  .*ETA 1:02:05/,
    );
  });

  it('the summary says how many rows were skipped and why, and how math rows were checked', () => {
    assert.equal(skippedLine(0), 'Skipped rows: 0');
    assert.match(
      skippedLine(3, { BadRow: 2, ImageLoadError: 1 }),
      /^Skipped rows: 3 \(BadRow 2, ImageLoadError 1\): left out of the stats like the seed/,
    );
    assert.equal(
      mathLine('math check: approximate (math_verify not installed)', '/usr/bin/python3 -m pip install math-verify'),
      "math check: approximate (math_verify not installed): for the seed's check run /usr/bin/python3 -m pip install math-verify",
    );
    assert.equal(mathLine('math check: math_verify 0.4 (/usr/bin/python3)'), 'math check: math_verify 0.4 (/usr/bin/python3)');
  });

  it('--judge-cache takes sample or shared (a usage error otherwise)', async () => {
    await assert.rejects(
      runEvalCli(['--data-path', 'x.jsonl', '--no-judge', '--judge-cache', 'everything']),
      (e: { exitCode?: number; message: string }) =>
        e.exitCode === 2 && /--judge-cache must be 'sample' or 'shared', got 'everything'/.test(e.message),
    );
  });
});
