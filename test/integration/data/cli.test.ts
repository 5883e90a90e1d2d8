/**
 * `codedance data export|verify` as a user runs it (dist/cli.js; build first): two saved chat
 * conversations exported as SFT and read back, an RL export that stops without a ground truth
 * and succeeds with the user's, and verify on the exported SFT file (real kernel) with its summary.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetInfo, readParquetRows } from '../../../src/core/data/parquet';
import { buildJob, defaultParams } from '../../../src/core/jobs/templates';
import { storeImages } from '../../../src/core/trajectory/imageFiles';
import { toSftMessages } from '../../../src/core/training-data';
import { fixtureTrajectory, solidPng } from '../../unit/data/exportFixtures';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'dist/cli.js');
const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CODEDANCE_PYTHON: PYTHON },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('codedance data (CLI)', function () {
  this.timeout(180_000);
  let tmp: string;
  const input = solidPng(56, 56, [10, 200, 10]);
  const t1 = fixtureTrajectory({
    id: 'c1q1',
    question: 'How big is it?',
    input,
    turns: [{ code: 'print(input_image.size)', stdout: '(56, 56)' }],
    answer: '56x56',
  });
  const t2 = fixtureTrajectory({
    id: 'c2q1',
    question: 'What colour?',
    input,
    turns: [{ code: 'print(input_image.getpixel((0, 0)))', stdout: '(10, 200, 10)' }],
    answer: 'green',
  });
  before(async () => {
    assert.ok(existsSync(CLI), 'dist/cli.js is missing: run node scripts/build.mjs');
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-data-cli-'));
    for (const [id, t] of [
      ['c1', t1],
      ['c2', t2],
    ] as const) {
      const dir = path.join(tmp, id);
      mkdirSync(dir);
      writeFileSync(
        path.join(dir, 'conversation.json'),
        JSON.stringify({ id, title: id, exchanges: [await storeImages(t, path.join(dir, 'images'))] }),
      );
    }
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('exports two chats as SFT, reads them back, and verifies the file', async () => {
    const out = path.join(tmp, 'chats_sft.parquet');
    const r = cli(['data', 'export', '--format', 'sft', '--out', out, path.join(tmp, 'c1'), path.join(tmp, 'c2', 'conversation.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote 2 SFT row\(s\)/);
    const rows = [];
    for await (const x of readParquetRows(out)) rows.push(x.row);
    assert.deepEqual(
      rows.map((x) => x.messages),
      [toSftMessages(t1.messages).messages, toSftMessages(t2.messages).messages],
    );
    const v = cli(['data', 'verify', out, '--concurrency', '2', '--no-sandbox', '--json', '--quiet']);
    assert.equal(v.code, 0, v.stderr);
    const s = JSON.parse(v.stdout) as { ran: number; total: { reproduces: number; executablePct: number } };
    assert.equal(s.ran, 2);
    assert.equal(s.total.reproduces, 2);
    assert.equal(s.total.executablePct, 100);
    assert.ok(existsSync(path.join(tmp, 'chats_sft.verify.jsonl')));
  });

  it('RL from chats: refused without a ground truth (no file), written with --ground-truth', () => {
    const out = path.join(tmp, 'chats_rl.parquet');
    const r = cli(['data', 'export', '--format', 'rl', '--out', out, path.join(tmp, 'c1'), path.join(tmp, 'c2')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /conversation 'c1' question 1 .*has no ground truth.*--ground-truth/);
    assert.equal(existsSync(out), false);
    const one = cli(['data', 'export', '--format', 'rl', '--out', out, '--answer', '56', path.join(tmp, 'c1'), path.join(tmp, 'c2')]);
    assert.equal(one.code, 2);
    assert.match(one.stderr, /--answer gives one answer/);
    const gt = path.join(tmp, 'gt.json');
    writeFileSync(gt, JSON.stringify({ c1q1: '56 by 56', 'What colour?': 'green' }));
    const ok = cli([
      'data',
      'export',
      '--format',
      'rl',
      '--out',
      out,
      '--ground-truth',
      gt,
      '--data-source',
      'vl_agent',
      path.join(tmp, 'c1'),
      path.join(tmp, 'c2'),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /wrote 2 RL row/);
  });

  it('the SFT and RL job templates take the exported files as they are (the columns their trainers read)', async () => {
    const sft = buildJob('codedance-sft', defaultParams({ trainFiles: 'chats_sft.parquet', valFiles: 'chats_sft.parquet' }), 'ray');
    assert.match(sft.entrypoint, /chats_sft\.parquet/);
    assert.match(sft.entrypoint, /data\.multiturn\.messages_key=messages/);
    assert.ok((await parquetInfo(path.join(tmp, 'chats_sft.parquet'))).columns.includes('messages'));
    const rl = buildJob('codedance-rl', defaultParams({ trainFiles: 'chats_rl.parquet', valFiles: 'chats_rl.parquet' }), 'ray');
    assert.match(rl.entrypoint, /chats_rl\.parquet/);
    assert.doesNotMatch(rl.entrypoint, /prompt_key/, "verl's default data.prompt_key ('prompt') is what the export writes");
    assert.deepEqual((await parquetInfo(path.join(tmp, 'chats_rl.parquet'))).columns, [
      'data_source',
      'prompt',
      'images',
      'ability',
      'reward_model',
      'extra_info',
    ]);
  });

  it('bad usage names the problem', () => {
    const r = cli(['data', 'export', '--format', 'csv', '--out', 'x.parquet', 'y']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--format must be 'sft' or 'rl', got 'csv'/);
    const v = cli(['data', 'verify', path.join(tmp, 'missing.parquet')]);
    assert.equal(v.code, 2);
    assert.match(v.stderr, /SFT file not found/);
  });
});
