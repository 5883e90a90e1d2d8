/**
 * Every value that becomes batch-script text, against values that try to end the #SBATCH
 * comment or run a command: each one is refused with an error naming the field and the fix, or
 * made harmless (the job name is reduced to safe characters, env values are single-quoted). The
 * rendered scripts are run by bash: the marker file a payload tries to create never appears.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildJob, defaultParams, JobsError } from '../../../src/core/jobs';
import { renderSbatchScript } from '../../../src/core/jobs/slurmText';
import type { JobSpec } from '../../../src/core/jobs/types';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sbatch-inject-'));
const MARK = path.join(dir, 'pwned');
after(() => rmSync(dir, { recursive: true, force: true }));

/** Each payload would create MARK if it reached the shell unquoted. */
const PAYLOADS: Record<string, string> = {
  newline: `gpu\ntouch ${MARK}`,
  crlf: `gpu\r\ntouch ${MARK}`,
  'command substitution': `$(touch ${MARK})`,
  backticks: `\`touch ${MARK}\``,
  'single quote': `x'; touch ${MARK}; echo '`,
  'double quote': `x"; touch ${MARK}; echo "`,
  semicolon: `x; touch ${MARK}`,
};

const base = (): JobSpec => ({ name: 'job', entrypoint: 'printf "%s" "${VALUE-}"', env: { SAFE: '1' } });

/** field → how the payload enters the spec, and what must happen: rejected (naming the field) or made safe. */
const FIELDS: { field: string; apply: (spec: JobSpec, v: string) => { spec: JobSpec; jobsDir?: string }; expect: 'rejected' | 'safe' }[] = [
  { field: 'partition', apply: (s, v) => ({ spec: { ...s, partition: v } }), expect: 'rejected' },
  { field: 'timeLimit', apply: (s, v) => ({ spec: { ...s, timeLimit: v } }), expect: 'rejected' },
  { field: 'workingDir', apply: (s, v) => ({ spec: { ...s, workingDir: v } }), expect: 'rejected' },
  { field: 'jobsDir', apply: (s, v) => ({ spec: s, jobsDir: v }), expect: 'rejected' },
  { field: 'nodes', apply: (s, v) => ({ spec: { ...s, nodes: v as unknown as number } }), expect: 'rejected' },
  { field: 'gpusPerNode', apply: (s, v) => ({ spec: { ...s, gpusPerNode: v as unknown as number } }), expect: 'rejected' },
  { field: 'cpusPerTask', apply: (s, v) => ({ spec: { ...s, cpusPerTask: v as unknown as number } }), expect: 'rejected' },
  { field: 'env', apply: (s, v) => ({ spec: { ...s, env: { [`A${v}`]: '1' } } }), expect: 'rejected' },
  { field: 'name', apply: (s, v) => ({ spec: { ...s, name: v } }), expect: 'safe' },
  { field: 'env value', apply: (s, v) => ({ spec: { ...s, env: { VALUE: v } } }), expect: 'safe' },
];

/** The #SBATCH block as sbatch reads it: the lines after #! up to the first line that is not a comment. */
function sbatchBlock(script: string): string[] {
  const lines = script.split('\n').slice(1);
  const end = lines.findIndex((l) => !l.startsWith('#'));
  return lines.slice(0, end);
}

describe('jobs: batch-script values cannot inject commands', () => {
  for (const f of FIELDS) {
    for (const [label, payload] of Object.entries(PAYLOADS)) {
      it(`${f.field} × ${label}: ${f.expect}`, () => {
        const { spec, jobsDir } = f.apply(base(), payload);
        let script: string;
        try {
          script = renderSbatchScript(spec, { jobsDir: jobsDir ?? '/home/u/.codedance/jobs' });
        } catch (e) {
          assert.equal(f.expect, 'rejected', `${f.field} should have been made safe, not refused: ${(e as Error).message}`);
          assert.ok(e instanceof JobsError && e.code === 'config', String(e));
          assert.ok(e.message.startsWith(`${f.field}: `), `the error names the field: ${e.message}`);
          assert.match(e.message, /: (use|give|write) /, `the error says the fix: ${e.message}`);
          return;
        }
        assert.equal(f.expect, 'safe', `${f.field} with ${label} was written into the script:\n${script}`);
        // the #SBATCH block keeps its shape: every line an #SBATCH option, none added
        const block = sbatchBlock(script);
        assert.deepEqual(
          block.map((l) => l.split('=')[0]),
          ['#SBATCH --job-name', '#SBATCH --output', '#SBATCH --ntasks-per-node'],
        );
        // and bash runs it without running the payload
        const out = execFileSync('bash', ['-c', script], { encoding: 'utf8', cwd: dir });
        assert.ok(!existsSync(MARK), `${label} in ${f.field} ran a command`);
        if (f.field === 'env value') assert.equal(out, payload, 'the value arrives unchanged');
      });
    }
  }

  it('legitimate values pass: partitions lists, Slurm time forms, ~ and dotted paths', () => {
    for (const timeLimit of ['30', '90:00', '12:00:00', '2-00:00:00', '1-12', 'UNLIMITED']) {
      assert.match(renderSbatchScript({ ...base(), timeLimit }, { jobsDir: '/j' }), new RegExp(`#SBATCH --time=${timeLimit}\n`));
    }
    const s = renderSbatchScript(
      { ...base(), partition: 'gpu,gpu-long', workingDir: '~/scratch/Code_Dance-1.0', nodes: 2 },
      { jobsDir: '/home/u/.codedance/jobs' },
    );
    assert.match(s, /#SBATCH --partition=gpu,gpu-long\n.*#SBATCH --nodes=2\n[\s\S]*#SBATCH --chdir=~\/scratch\/Code_Dance-1\.0\n/);
    assert.throws(
      () => renderSbatchScript({ ...base(), timeLimit: 'tomorrow' }, { jobsDir: '/j' }),
      /timeLimit: 'tomorrow' is not a Slurm time: write it as D-HH:MM:SS/,
    );
    assert.throws(() => renderSbatchScript({ ...base(), workingDir: '/a b' }, { jobsDir: '/j' }), /workingDir: "\/a b" contains a space/);
  });

  it('template fields reach the script only checked: repoDir and timeLimit', () => {
    assert.throws(
      () => renderSbatchScript(buildJob('codedance-rl', defaultParams({ repoDir: `/x\ntouch ${MARK}` }), 'slurm'), { jobsDir: '/j' }),
      /^JobsError: workingDir: .* contains a line break/,
    );
    assert.throws(
      () => buildJob('codedance-rl', defaultParams({ timeLimit: '1:00\nid' }), 'slurm'),
      (e: unknown) => e instanceof JobsError && /timeLimit: .* is not a Slurm time/.test(e.message),
    );
    assert.ok(!existsSync(MARK));
  });
});
