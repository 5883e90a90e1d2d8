/**
 * Files written by the release before trajectory schema 2 keep opening (test/fixtures/v1, made
 * by makeV1Fixtures.ts with that release): eval results whose `codedance.trajectory` was a
 * per-turn copy without messages, and chat history of schema 1. Each reads as a schema-2
 * Trajectory; an old eval record's messages are rebuilt (and marked so) well enough that the
 * seed's fields derived from them are the ones that release wrote.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CodeDanceError } from '../../../src/core/errors';
import {
  loadRun,
  readRecordAt,
  recordTrajectory,
  reportSample,
  sampleTrajectory,
  seedFields,
  type ResultRecord,
} from '../../../src/core/eval';
import { loadImages } from '../../../src/core/trajectory/imageFiles';
import { migrateTrajectory } from '../../../src/core/trajectory/migrate';
import { TRAJECTORY_VERSION, type Trajectory } from '../../../src/core/trajectory/types';

const V1 = path.resolve(__dirname, '../../fixtures/v1');
const SEED_RUN_FIELDS = [
  'question',
  'pred_ans',
  'input',
  'output',
  'multi_modal_data',
  'try_count',
  'tool_call_count',
  'tool_success_count',
  'tool_success_rate',
] as const;

const records = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ResultRecord);

describe('trajectory migration (schema 1 files)', () => {
  for (const protocol of ['codedance', 'codedance-tools']) {
    const file = path.join(V1, 'results', protocol, 'result_v1_mini.jsonl');

    it(`${protocol}: a schema-1 eval record reads as a schema-2 trajectory whose derived seed fields are the stored ones`, async () => {
      const recs = records(file);
      assert.equal(recs.length, 3);
      assert.ok(
        recs.every((r) => r.codedance.trajectory === undefined || !('version' in r.codedance.trajectory)),
        'the fixture is schema 1',
      );
      for (const r of recs.filter((x) => x.codedance.trajectory)) {
        const t = (await recordTrajectory(r, file))!;
        assert.equal(t.version, TRAJECTORY_VERSION);
        assert.equal(t.migrated?.source, 'eval-record');
        assert.equal(t.migrated?.fromVersion, 1);
        assert.match(t.migrated!.rebuilt[0], new RegExp(`messages rebuilt with the ${protocol} protocol`));
        assert.equal(t.messages[0].role, 'system');
        assert.equal(t.messages.filter((m) => m.role === 'assistant').length, t.turns.filter((x) => !x.discarded).length);
        assert.equal(t.inputImages[0].data, r.multi_modal_data.image[0], 'images inline again, from multi_modal_data');
        assert.match(t.turns[0].cells[0].images[0].data, /^iVBOR/);
        if (protocol === 'codedance-tools') assert.ok(t.turns[0].toolCalls.length > 0, 'tool calls rebuilt from the cells');
        assert.equal(t.answer, r.codedance.trajectory && (r.codedance.trajectory as unknown as { answer?: string }).answer);
        const derived = seedFields(t);
        for (const k of SEED_RUN_FIELDS) assert.deepEqual(derived[k], r[k], `sample ${r.index}: ${k}`);
      }
    });
  }

  it('the report opens a schema-1 results file; "Open in chat" gets a trajectory with messages; a skipped row has none', async () => {
    const file = path.join(V1, 'results', 'codedance', 'result_v1_mini.jsonl');
    const { run, offsets } = await loadRun(file);
    assert.equal(run.total, 2);
    assert.equal(run.skipped, 1);
    const s = await reportSample(readRecordAt(file, offsets.get(0)!), file, 'A');
    assert.equal(s.trajectory?.turns.length, 2);
    assert.equal(s.trajectory?.migrated?.source, 'eval-record');
    assert.ok(!('messages' in s.trajectory!), 'the report view leaves the messages out');
    const t = await sampleTrajectory(readRecordAt(file, offsets.get(0)!), file);
    assert.ok(t.messages.length >= 4);
    await assert.rejects(sampleTrajectory(readRecordAt(file, offsets.get(2)!), file), /sample 2 has no trajectory \(it was skipped\)/);
  });

  it('chat history of schema 1 reads as schema 2, images (even a message stored twice by that release) intact', async () => {
    const root = path.join(V1, 'history', 'conversations');
    const id = readdirSync(root).find((f) => f !== 'index.json')!;
    const dir = path.join(root, id);
    const raw = JSON.parse(readFileSync(path.join(dir, 'conversation.json'), 'utf8')) as { exchanges: unknown[] };
    assert.equal(raw.exchanges.length, 2);
    const ex: Trajectory[] = [];
    for (const x of raw.exchanges) ex.push(await loadImages(migrateTrajectory(x), path.join(dir, 'images')));
    for (const t of ex) {
      assert.equal(t.version, TRAJECTORY_VERSION);
      assert.deepEqual(t.migrated, { fromVersion: 1, source: 'history', rebuilt: [] });
    }
    const input = ex[0].inputImages[0].data;
    assert.match(input, /^iVBOR/);
    // the follow-up's history shares the first exchange's messages: its images are the real ones
    for (const t of ex) {
      const urls = t.messages.flatMap((m) =>
        Array.isArray(m.content) ? m.content.flatMap((p) => (p.type === 'image_url' ? [p.image_url.url] : [])) : [],
      );
      assert.ok(urls.length >= 2, `${urls.length} images in the messages`);
      assert.equal(urls[0].replace(/^data:[^,]*,/, ''), input, 'the question image in the messages is the input image');
      for (const u of urls) assert.match(u, /^data:image\/(png|jpeg);base64,iVBOR/);
    }
    assert.equal(ex[1].messages.length, 9, 'the follow-up carries the first exchange');
  });

  it('refuses what it cannot read, saying why', () => {
    assert.throws(
      () => migrateTrajectory({ version: 3, id: 'x', question: 'q', turns: [], messages: [], inputImages: [] }),
      (e: unknown) =>
        e instanceof CodeDanceError &&
        e.kind === 'input' &&
        /schema version 3, written by a newer CodeDance \(this one reads up to 2\) — update CodeDance/.test(e.message),
    );
    assert.throws(() => migrateTrajectory({ id: 'x' }), /not a CodeDance trajectory \(no schema version; id x\)/);
    assert.throws(() => migrateTrajectory({ version: 1, id: 'x', question: 'q' }), /trajectory x \(schema 1\) is incomplete/);
    assert.throws(() => migrateTrajectory('nope'), /not a CodeDance trajectory: string/);
  });
});
