#!/usr/bin/env node
// `npm run bench`: every bench/*.bench.ts, each measuring its subject and its baseline side by
// side in the same run, printed as one table. Speed targets live here, never in timed tests.
// Usage: node scripts/bench.mjs [name ...]   (e.g. `kernel`, `agent`); --json for machine output
// (the rows and the machine they ran on: its 1/5/15-minute load averages at the start and at the
// end, since other work on a shared machine shows in every figure); --profile adds each measure's parts (kernel: a cell's
// hops and the prelude's split vs a bare ipykernel; agent: the loop's phases vs its parts).
// Exit code 1 when a goal is missed.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const asJson = args.includes('--json');
const profile = args.includes('--profile');
const names = args.filter((a) => !a.startsWith('-'));
const files = readdirSync(path.join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !names.length || names.includes(f.replace(/\.bench\.ts$/, '')))
  .sort();
if (!files.length) {
  console.error(`no bench matches ${names.join(', ')}; have: ${readdirSync(path.join(root, 'bench')).join(', ')}`);
  process.exit(2);
}

const runner = `
const m = require(process.argv[1]);
m.run().then((rs) => { process.stdout.write('\\n@@BENCH@@' + JSON.stringify(rs) + '\\n'); process.exit(0); },
             (e) => { console.error(e && e.stack || e); process.exit(1); });`;

const rows = [];
let broken = 0;
const loadAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
for (const f of files) {
  if (!asJson) process.stderr.write(`bench: ${f} …\n`);
  const r = spawnSync(
    process.execPath,
    ['--require', path.join(root, 'scripts/registerTs.cjs'), '-e', runner, path.join(root, 'bench', f)],
    {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...(profile ? { CODEDANCE_BENCH_PROFILE: '1' } : {}) },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('@@BENCH@@'));
  if (r.status !== 0 || !line) {
    console.error(`bench: ${f} failed (exit ${r.status})`);
    broken++;
    continue;
  }
  for (const row of JSON.parse(line.slice('@@BENCH@@'.length))) rows.push({ file: f, ...row });
}

if (asJson) {
  const machine = {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavgAtStart: loadAtStart,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    date: new Date().toISOString(),
  };
  console.log(JSON.stringify({ machine, profile, benches: files.map((f) => f.replace(/\.bench\.ts$/, '')), rows }, null, 1));
} else {
  const head = ['benchmark', 'value', 'baseline', 'ratio', 'goal', 'ok'];
  const body = rows.map((r) => [
    r.name,
    `${r.value} ${r.unit}`,
    r.baseline !== undefined ? `${r.baseline} ${r.unit}` : '',
    r.ratio !== undefined ? `${r.ratio}×` : '',
    r.goal ?? '',
    r.pass === undefined ? '' : r.pass ? 'PASS' : 'FAIL',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (cells) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  console.log(fmt(head));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const b of body) console.log(fmt(b));
}
const missed = rows.filter((r) => r.pass === false).length;
if (!asJson) console.log(`\n${rows.length} measurements, ${missed} goal(s) missed${broken ? `, ${broken} bench file(s) failed` : ''}`);
process.exit(missed || broken ? 1 : 0);
