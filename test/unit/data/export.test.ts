/**
 * Export as training data: trajectories (a saved conversation, an eval results file) to
 * CodeDance-SFT and CodeDance-RL parquet, read back with the project's own parquet reader (and
 * the eval's dataset reader for RL): every field as written, images byte for byte.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDataset } from '../../../src/core/data/dataset';
import { parquetInfo, readParquetRows } from '../../../src/core/data/parquet';
import { storeRecordImages } from '../../../src/core/eval/recordTrajectory';
import type { ResultRecord } from '../../../src/core/eval/record';
import { shareHistory } from '../../../src/core/conversation/storedHistory';
import { storeAllImages, storeImages } from '../../../src/core/trajectory/imageFiles';
import { referToFiles } from '../../../src/core/trajectory/images';
import {
  ExportError,
  evalResultItems,
  conversationItems,
  exportTrainingData,
  itemsFromPath,
  toSftMessages,
  trajectoryItems,
} from '../../../src/core/training-data';
import { fixtureTrajectory, solidPng } from './exportFixtures';

const input = solidPng(56, 56, [200, 30, 30]);
const plot = solidPng(28, 28, [0, 0, 255]);
const answered = fixtureTrajectory({
  id: 'a1',
  question: 'What colour is it?',
  input,
  turns: [{ code: 'print(input_image.size)', stdout: '(56, 56)', images: [plot] }],
  answer: 'red',
});
const unfinished = fixtureTrajectory({ id: 'u1', question: 'Count?', input, turns: [{ code: 'print(1)', stdout: '1' }] });

async function readAll(file: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const r of readParquetRows(file)) {
    assert.equal(r.error, undefined);
    out.push(r.row);
  }
  return out;
}

const bytesEq = (a: unknown, b: Uint8Array) => assert.deepEqual(Buffer.from(a as Uint8Array), Buffer.from(b));

describe('training data export (SFT / RL parquet)', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-export-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('renders messages as the dataset card has them: one string per message, <image> tokens, images in order', () => {
    const { messages, images } = toSftMessages(answered.messages);
    assert.deepEqual(
      messages.map((m) => m.role),
      ['system', 'user', 'assistant', 'user', 'assistant'],
    );
    assert.ok(messages[1].content.startsWith('<image>What colour is it?\nThink step-by-step'));
    assert.equal(messages[3].content, '<tool_response>Output:\n(56, 56)Output image:<image></tool_response>');
    assert.deepEqual(
      images.map((i) => i.data),
      [input.toString('base64'), plot.toString('base64')],
    );
  });

  it('renders function-calling turns as the Qwen template does (tool_call text, tool results in one user turn)', () => {
    const { messages } = toSftMessages([
      {
        role: 'assistant',
        content: 'thinking',
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'execute_python_code', arguments: '{"code":"print(1)"}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'Code execution successful, output:\n1' }] },
    ]);
    assert.equal(
      messages[0].content,
      'thinking\n<tool_call>\n{"name":"execute_python_code","arguments":{"code":"print(1)"}}\n</tool_call>',
    );
    assert.deepEqual(messages[1], { role: 'user', content: '<tool_response>\nCode execution successful, output:\n1\n</tool_response>' });
  });

  it('SFT: a saved conversation exports its answered exchanges; the file reads back exactly', async () => {
    const dir = path.join(tmp, 'conv');
    mkdirSync(dir);
    const stored = [await storeImages(answered, path.join(dir, 'images')), await storeImages(unfinished, path.join(dir, 'images'))];
    writeFileSync(path.join(dir, 'conversation.json'), JSON.stringify({ id: 'c1', title: 'colours', exchanges: stored }));
    const out = path.join(tmp, 'sft.parquet');
    const s = await exportTrainingData({ format: 'sft', out, items: conversationItems(dir) });
    assert.equal(s.rows, 1);
    assert.equal(s.skipped.length, 1);
    assert.match(s.skipped[0].reason, /max_turns/);
    assert.deepEqual((await parquetInfo(out)).columns, ['messages', 'images']);
    const [row] = await readAll(out);
    const want = toSftMessages(answered.messages);
    assert.deepEqual(row.messages, want.messages);
    const imgs = row.images as Uint8Array[];
    assert.equal(imgs.length, 2);
    bytesEq(imgs[0], input);
    bytesEq(imgs[1], plot);
  });

  it('SFT: a conversation whose follow-up is stored with its own messages only (the chat history) exports it whole', async () => {
    const dir = path.join(tmp, 'conv-continued');
    mkdirSync(dir);
    const followUp = fixtureTrajectory({ id: 'f1', question: 'And now?', input, turns: [], answer: 'blue' });
    followUp.messages = [...answered.messages, ...followUp.messages.slice(1)];
    const stored = shareHistory(await storeAllImages([answered, followUp], path.join(dir, 'images')));
    assert.ok(!('messages' in stored[1]), 'the follow-up is stored without the earlier messages');
    writeFileSync(path.join(dir, 'conversation.json'), JSON.stringify({ id: 'c2', title: 'follow-up', exchanges: stored }));
    const out = path.join(tmp, 'sft-continued.parquet');
    assert.equal((await exportTrainingData({ format: 'sft', out, items: conversationItems(dir) })).rows, 2);
    const rows = await readAll(out);
    assert.deepEqual(rows[1].messages, toSftMessages(followUp.messages).messages);
  });

  it("SFT: a trajectory .json with its images as files beside it (codedance ask's folder) exports as the same file with them inline", async () => {
    const dir = path.join(tmp, 'ask-out');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'input_image.png'), input);
    writeFileSync(path.join(dir, 't0-c0-i0.png'), plot);
    const files = new Map([
      [input.toString('base64'), 'input_image.png'],
      [plot.toString('base64'), 't0-c0-i0.png'],
    ]);
    const stored = await referToFiles(answered, files);
    assert.ok(!JSON.stringify(stored).includes(input.toString('base64')), 'no image inline');
    writeFileSync(path.join(dir, 'trajectory.json'), JSON.stringify(stored));
    // the same trajectory with its images inline, as older releases wrote it
    writeFileSync(path.join(tmp, 'inline.json'), JSON.stringify(answered));
    const rows = [];
    for (const src of [path.join(dir, 'trajectory.json'), path.join(tmp, 'inline.json')]) {
      const out = path.join(tmp, `${path.basename(src)}.parquet`);
      assert.equal((await exportTrainingData({ format: 'sft', out, items: itemsFromPath(src) })).rows, 1);
      rows.push((await readAll(out))[0]);
    }
    assert.deepEqual(rows[0], rows[1]);
    bytesEq((rows[0].images as Uint8Array[])[0], input);
    bytesEq((rows[0].images as Uint8Array[])[1], plot);
    // a file it refers to that is gone: said, with the fix
    rmSync(path.join(dir, 't0-c0-i0.png'));
    await assert.rejects(
      exportTrainingData({ format: 'sft', out: path.join(tmp, 'gone.parquet'), items: itemsFromPath(path.join(dir, 'trajectory.json')) }),
      /t0-c0-i0\.png of trajectory a1 cannot be read \(ENOENT\)/,
    );
  });

  it('eval results: a sample written twice (a rerun appended it) is exported once, from its last line, and the earlier line is named', async () => {
    const res = path.join(tmp, 'eval-dup', 'result_m_ds.jsonl');
    mkdirSync(path.dirname(res), { recursive: true });
    const rec = (t: typeof answered, index: number, acc: number, gt: string) =>
      ({
        question: t.question,
        ground_truth: gt,
        acc,
        index,
        status: 'success',
        codedance: { data_source: 'vstar', trajectory: t },
      }) as unknown as ResultRecord;
    const first = await storeRecordImages(rec(answered, 3, 1, 'blue'), path.join(path.dirname(res), 'images'));
    const again = await storeRecordImages(rec(answered, 3, 1, 'red'), path.join(path.dirname(res), 'images'));
    writeFileSync(res, [first, again].map((l) => JSON.stringify(l)).join('\n') + '\n');
    const skipped: string[] = [];
    const items = [];
    for await (const it of evalResultItems(res, { onSkip: (x) => skipped.push(`${x.origin}: ${x.reason}`) })) items.push(it);
    assert.equal(items.length, 1);
    assert.equal(items[0].groundTruth, 'red');
    assert.deepEqual(skipped, ['result_m_ds.jsonl sample 3: a later line of the same sample replaces it']);
  });

  it('RL: eval samples (only the correct ones) keep the dataset ground truth and data_source; the eval reader reads the file', async () => {
    const res = path.join(tmp, 'eval', 'result_m_ds.jsonl');
    mkdirSync(path.dirname(res), { recursive: true });
    const wrong = fixtureTrajectory({ id: 'w', question: 'How many?', input, turns: [], answer: '5' });
    const rec = (t: typeof answered, index: number, acc: number, gt: string) =>
      ({
        question: t.question,
        ground_truth: gt,
        acc,
        index,
        status: 'success',
        codedance: { data_source: 'vstar', trajectory: t },
      }) as unknown as ResultRecord;
    const lines = [
      await storeRecordImages(rec(answered, 7, 1, 'red'), path.join(path.dirname(res), 'images')),
      await storeRecordImages(rec(wrong, 8, 0, '3'), path.join(path.dirname(res), 'images')),
    ];
    writeFileSync(res, lines.map((l) => JSON.stringify(l)).join('\n') + '\n{broken\n');
    const skipped: string[] = [];
    const out = path.join(tmp, 'rl.parquet');
    const s = await exportTrainingData({
      format: 'rl',
      out,
      items: evalResultItems(res, { select: 'correct', onSkip: (x) => skipped.push(x.reason) }),
      split: 'train',
    });
    assert.equal(s.rows, 1);
    assert.deepEqual(skipped, ['not a JSON line']);
    assert.deepEqual((await parquetInfo(out)).columns, ['data_source', 'prompt', 'images', 'ability', 'reward_model', 'extra_info']);
    const [row] = await readAll(out);
    assert.equal(row.data_source, 'vstar');
    assert.equal(row.ability, 'visual_reasoning');
    assert.deepEqual(row.reward_model, { ground_truth: 'red', style: 'rule' });
    assert.deepEqual(row.prompt, toSftMessages(answered.messages.slice(0, 2)).messages);
    const ex = row.extra_info as Record<string, unknown>;
    assert.equal(ex.question, 'What colour is it?');
    assert.equal(ex.answer, 'red');
    assert.equal(ex.index, 7n);
    assert.equal(ex.split, 'train');
    assert.equal(ex.need_tools_kwargs, true);
    const tk = ex.tools_kwargs as { execute_python_code: { create_kwargs: { image: { bytes: Uint8Array; path: unknown } } } };
    bytesEq(tk.execute_python_code.create_kwargs.image.bytes, input);
    assert.equal((row.images as Uint8Array[]).length, 1);
    bytesEq((row.images as Uint8Array[])[0], input);
    // the eval (and so the seed's eval.py field mapping) reads the exported file as a dataset
    const ds = await openDataset(out);
    const samples = [];
    for await (const x of ds.samples()) samples.push(x);
    assert.equal(samples.length, 1);
    assert.equal(samples[0].question, 'What colour is it?');
    assert.equal(samples[0].answer, 'red');
    assert.equal(samples[0].dataSource, 'vstar');
    assert.deepEqual(Buffer.from(samples[0].images[0]), input);
  });

  it("RL: a chat without a ground truth is refused, naming it, and no file is left; the user's answer is used", async () => {
    const out = path.join(tmp, 'rl-chat.parquet');
    await assert.rejects(
      exportTrainingData({ format: 'rl', out, items: trajectoryItems([{ trajectory: answered, origin: 'chat q1' }]) }),
      (e: unknown) => e instanceof ExportError && /chat q1.*no ground truth/.test((e as Error).message),
    );
    assert.equal(existsSync(out), false);
    const s = await exportTrainingData({
      format: 'rl',
      out,
      promptKey: 'messages',
      items: trajectoryItems([{ trajectory: answered, origin: 'chat q1' }]),
      groundTruth: () => 'crimson',
    });
    assert.equal(s.rows, 1);
    const [row] = await readAll(out);
    assert.deepEqual(row.reward_model, { ground_truth: 'crimson', style: 'rule' });
    assert.equal(row.data_source, 'chat');
    assert.ok(Array.isArray(row.messages));
    // an empty dataset answer counts as none: asked for; a known one (an eval sample's, opened in the chat) is used with its data_source
    const asked: string[] = [];
    const items = trajectoryItems([
      { trajectory: answered, origin: 'sample 1', groundTruth: ' ' },
      { trajectory: answered, origin: 'sample 2', groundTruth: 'red', dataSource: 'vstar' },
    ]);
    await exportTrainingData({ format: 'rl', out, items, groundTruth: (item) => (asked.push(item.origin), 'blue') });
    assert.deepEqual(asked, ['sample 1']);
    assert.deepEqual(
      (await readAll(out)).map((r) => [(r.reward_model as { ground_truth: string }).ground_truth, r.data_source]),
      [
        ['blue', 'chat'],
        ['red', 'vstar'],
      ],
    );
  });

  it('refuses a trajectory whose images were not loaded, and an export with nothing in it', async () => {
    const refs = await storeImages(answered, path.join(tmp, 'refs'));
    await assert.rejects(
      exportTrainingData({ format: 'sft', out: path.join(tmp, 'x.parquet'), items: trajectoryItems([{ trajectory: refs, origin: 'o' }]) }),
      /file reference/,
    );
    await assert.rejects(
      exportTrainingData({
        format: 'sft',
        out: path.join(tmp, 'y.parquet'),
        items: trajectoryItems([{ trajectory: unfinished, origin: 'o' }]),
      }),
      /nothing to export: 1 skipped/,
    );
    assert.equal(existsSync(path.join(tmp, 'y.parquet')), false);
  });
});
