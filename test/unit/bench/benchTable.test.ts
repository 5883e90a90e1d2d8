/** scripts/benchTable.mjs: the README's benchmark table from a `npm run bench -- --json` output. */
import { strict as assert } from 'node:assert';
import path from 'node:path';

interface Mod {
  renderTable(run: unknown): string;
  replaceSection(readme: string, table: string): string;
  mergeSection(body: string, run: unknown): string;
  parseSection(body: string): { header: string; benches: string[]; rows: { name: string; line: string }[] }[];
}
const load = async () => (await import(path.join(__dirname, '../../../scripts/benchTable.mjs'))) as Mod;

const run = {
  machine: {
    cpus: 2,
    cpu: 'AMD EPYC',
    memoryGiB: 8,
    loadavgAtStart: [0.5, 1, 1.2],
    loadavg: [3.1, 2, 1.5],
    platform: 'linux 6.1',
    node: 'v20.20.2',
    date: '2026-11-29T19:00:00.000Z',
  },
  profile: false,
  rows: [
    {
      file: 'kernel.bench.ts',
      name: 'kernel.trivial_cell.assign.median',
      value: 1.2,
      unit: 'ms',
      baseline: 0.0002,
      ratio: 6000,
      goal: '≤ 1.0 ms added',
      pass: false,
    },
    { file: 'kernel.bench.ts', name: 'kernel.cold_start.first_cell', value: 640, unit: 'ms' },
    { file: 'kernel.bench.ts', name: 'kernel.profile.unsandboxed.idle hop', value: 0.5, unit: 'ms', baseline: 0.5 },
    { file: 'eval.bench.ts', name: 'eval samples/s | steady', value: 60, unit: 'samples/s', goal: '≥ 25/s', pass: true },
  ],
};

describe('bench: the README table', () => {
  it('has the machine, its load at the start and the end, and each goal or baseline row with its verdict', async () => {
    const t = (await load()).renderTable(run);
    assert.match(
      t,
      /2 × AMD EPYC, 8 GiB, linux 6\.1, Node v20\.20\.2; load average \(1\/5\/15 min\) 0\.5 \/ 1 \/ 1\.2 at the start, 3\.1 \/ 2 \/ 1\.5 at the end/,
    );
    assert.match(t, /\| kernel\.trivial_cell\.assign\.median \| 1\.2 ms \| 0\.0002 ms \| 6000× \| ≤ 1\.0 ms added \| \*\*no\*\* \|/);
    assert.match(t, /\| eval samples\/s \\\| steady \| 60 samples\/s \|  \|  \| ≥ 25\/s \| yes \|/, 'a | in a name is escaped');
    assert.doesNotMatch(t, /cold_start|idle hop/, 'rows with neither goal nor baseline, and profile parts without a goal, stay out');
  });

  it('replaces only what is between the markers, and says what to add when they are missing', async () => {
    const { replaceSection } = await load();
    const readme = 'intro\n<!-- bench-table:start -->\nold table\n<!-- bench-table:end -->\nrest\n';
    assert.equal(replaceSection(readme, 'NEW'), 'intro\n<!-- bench-table:start -->\nNEW\n<!-- bench-table:end -->\nrest\n');
    assert.throws(
      () => replaceSection('no markers', 'x'),
      /README\.md has no "<!-- bench-table:start -->" … "<!-- bench-table:end -->" section: add the two lines/,
    );
  });

  it('a run of some benches keeps the rows of the others: its table replaces the runs it re-ran whole, and the rows it measured again', async () => {
    const { mergeSection, parseSection } = await load();
    const full = { ...run, benches: ['eval', 'kernel'] };
    const first = mergeSection('', full);
    assert.deepEqual(
      parseSection(first).map((b) => [b.benches, b.rows.map((r) => r.name)]),
      [
        [
          ['eval', 'kernel'],
          ['kernel.trivial_cell.assign.median', 'eval samples/s \\| steady'],
        ],
      ],
    );
    // a new bench: its own table after the earlier one, which is kept whole
    const scale = {
      ...run,
      benches: ['scale'],
      machine: { ...run.machine, date: '2026-12-07T17:00:00.000Z' },
      rows: [{ file: 'scale.bench.ts', name: 'report: opens', value: 600, unit: 'ms', goal: '≤ 1000 ms', pass: true }],
    };
    const second = mergeSection(first, scale);
    assert.deepEqual(
      parseSection(second).map((b) => b.rows.map((r) => r.name)),
      [['kernel.trivial_cell.assign.median', 'eval samples/s \\| steady'], ['report: opens']],
    );
    assert.match(second, /From `npm run bench -- eval kernel --json`, 2026-11-29 19:00 UTC/);
    assert.match(second, /From `npm run bench -- scale --json`, 2026-12-07 17:00 UTC/);
    // eval alone again: its row moves to the new table, the kernel row stays with its run
    const evalAgain = { ...run, benches: ['eval'], rows: [{ ...run.rows[3], value: 70 }] };
    const third = parseSection(mergeSection(second, evalAgain));
    assert.deepEqual(
      third.map((b) => [b.benches.join(' '), b.rows.map((r) => r.name)]),
      [
        ['eval kernel', ['kernel.trivial_cell.assign.median']],
        ['scale', ['report: opens']],
        ['eval', ['eval samples/s \\| steady']],
      ],
    );
    // the scale bench again, whole: its earlier table goes
    assert.equal(parseSection(mergeSection(second, scale)).length, 2);
    // a full run replaces them all
    assert.equal(parseSection(mergeSection(second, { ...full, benches: ['eval', 'kernel', 'scale'] })).length, 1);
  });
});
