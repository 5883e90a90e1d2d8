#!/usr/bin/env node
// The README's benchmark table, regenerated from `npm run bench -- --json`: every goal row and
// its baseline from the same run, and the machine it ran on (CPU, cores, load at the start and
// the end: the machine may be shared, and other work shows in every figure).
//   node scripts/benchTable.mjs [bench ...] [--profile]  runs the benches (--json), then writes README.md
//   node scripts/benchTable.mjs --from FILE.json     writes README.md from a saved --json output
// (`npm run bench:table` is the first form)
// The table goes between the <!-- bench-table:start --> and <!-- bench-table:end --> lines; the
// JSON of the run is kept in bench/.results/latest.json (not committed). A run of some benches
// keeps the rows of the others: the section is a table per run (its command, date and machine
// above it); the new run's table replaces those of runs it re-ran whole, and from the others it
// takes only the rows it measured again (by name). A full run (`npm run bench:table`) replaces all.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const START = '<!-- bench-table:start -->';
const END = '<!-- bench-table:end -->';

const cell = (v) => String(v ?? '').replace(/\|/g, '\\|');
const TABLE_HEAD = ['| measure | value | baseline (same run) | ratio | goal | met |', '| --- | --- | --- | --- | --- | --- |'];

const withUnit = (v, unit) => (v === undefined ? '' : `${v} ${unit}`.trim());

/** the markdown for one `bench.mjs --json` output: the rows that have a goal or a baseline */
export function renderTable(run) {
  const command = `npm run bench -- ${run.benches ? `${run.benches.join(' ')} ` : ''}--json${run.profile ? ' --profile' : ''}`;
  const m = run.machine;
  // every row with a goal; rows with only a baseline unless they are --profile parts (bench output has those)
  const rows = run.rows.filter(
    (r) =>
      r.goal !== undefined || (r.baseline !== undefined && !r.name.startsWith('kernel.profile.') && !r.name.startsWith('agent.profile.')),
  );
  const lines = [
    `From \`${command}\`, ${m.date.slice(0, 16).replace('T', ' ')} UTC: ${m.cpus} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; load average (1/5/15 min) ${(m.loadavgAtStart ?? []).join(' / ') || '?'} at the start, ${m.loadavg.join(' / ')} at the end.`,
    '',
    ...TABLE_HEAD,
    ...rows.map(
      (r) =>
        `| ${cell(r.name)} | ${cell(withUnit(r.value, r.unit))} | ${cell(withUnit(r.baseline, r.unit))} | ${r.ratio !== undefined ? `${r.ratio}×` : ''} | ${cell(r.goal)} | ${r.pass === undefined ? '' : r.pass ? 'yes' : '**no**'} |`,
    ),
  ];
  return lines.join('\n');
}

const FROM = 'From `npm run bench -- ';

/** The tables of a section: each run's header line (the benches it names) and its rows, each with its measure's name. */
export function parseSection(body) {
  const blocks = [];
  for (const line of body.split('\n')) {
    if (line.startsWith(FROM)) {
      const args = line.slice(FROM.length, line.indexOf('`', FROM.length)).split(' ');
      blocks.push({ header: line, benches: args.filter((a) => !a.startsWith('-')), rows: [] });
    } else if (blocks.length && line.startsWith('| ') && !line.startsWith('| measure |') && !line.startsWith('| --- |')) {
      // the first cell, up to the first ' | ' that is not an escaped '\|'
      const m = /^\| ((?:[^|\\]|\\.)*?) \|/.exec(line);
      blocks.at(-1).rows.push({ name: m ? m[1] : line, line });
    }
  }
  return blocks;
}

/**
 * The section for `run` over what it held (`body`): the tables of earlier runs, less those the run
 * re-ran whole and less the rows it measured again, then the run's own table.
 */
export function mergeSection(body, run) {
  const table = renderTable(run);
  const benches = new Set(run.benches ?? []);
  const mine = new Set(parseSection(table)[0].rows.map((r) => r.name));
  const kept = [];
  for (const b of parseSection(body)) {
    if (b.benches.length && b.benches.every((x) => benches.has(x))) continue;
    const rows = b.rows.filter((r) => !mine.has(r.name));
    if (rows.length) kept.push([b.header, '', ...TABLE_HEAD, ...rows.map((r) => r.line)].join('\n'));
  }
  return [...kept, table].join('\n\n');
}

/** the text between the markers */
export function sectionOf(readme) {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  return a < 0 || b < a ? '' : readme.slice(a + START.length, b);
}

/** README text with the section between the markers replaced */
export function replaceSection(readme, table) {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no "${START}" … "${END}" section: add the two lines where the table goes`);
  return `${readme.slice(0, a + START.length)}\n${table}\n${readme.slice(b)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const fromAt = args.indexOf('--from');
  let json;
  if (fromAt >= 0) {
    if (!args[fromAt + 1]) throw new Error('--from needs the path of a saved `npm run bench -- --json` output');
    json = readFileSync(args[fromAt + 1], 'utf8');
  } else {
    // bench names and flags (--profile) go to bench.mjs as they are
    const r = spawnSync(process.execPath, ['scripts/bench.mjs', '--json', ...args.filter((a) => a !== '--json')], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 << 20,
    });
    json = r.stdout;
    if (!json.trim().startsWith('{')) {
      console.error(`bench produced no JSON (exit ${r.status})`);
      process.exit(1);
    }
  }
  const run = JSON.parse(json);
  mkdirSync(path.join(root, 'bench/.results'), { recursive: true });
  writeFileSync(path.join(root, 'bench/.results/latest.json'), JSON.stringify(run, null, 1));
  const readmePath = path.join(root, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  writeFileSync(readmePath, replaceSection(readme, mergeSection(sectionOf(readme), run)));
  const missed = run.rows.filter((r) => r.pass === false).length;
  console.log(`README.md: ${run.rows.length} rows from the run, ${missed} goal(s) missed; JSON in bench/.results/latest.json`);
}
