/**
 * Every catalog set through the Hub path: the fixture Hub on 127.0.0.1 serves each set's fixture
 * (test/fixtures/benchmarks/hub: its files at the paths and in the shape of its Hub repository)
 * at the entry's revision; `prepareBenchmark` fetches the entry's files (and, for V*, the images
 * its jsonl names) into the cache and converts them. The result must hold the same rows, byte for
 * byte, as the conversion of the same copy read offline (which test/unit/benchmarks checks row by
 * row); only the file's metadata differs: the offline one says `offline_copy` (its commit cannot be
 * checked). A second call reuses it without a request.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CATALOG, offlineFiles, type BenchmarkEntry } from '../../../src/core/benchmarks';
import { countSourceRows } from '../../../src/core/benchmarks/sourceRows';
import { parquetInfo, readParquetRows } from '../../../src/core/data/parquet';
import { hubSettings, prepareBenchmark } from '../../../src/core/hub';
import { HUB_FIXTURES } from '../../fixtures/benchmarks/hubFixtures';
import { startHubServer, type HubServer } from '../../fixtures/hub-server';

/** sha256 over every row's columns (bytes as they are), in order: the data, not the file's metadata */
async function rowsSha(f: string): Promise<string> {
  const h = createHash('sha256');
  for await (const { row, error } of readParquetRows(f)) {
    assert.equal(error, undefined, f);
    h.update(
      JSON.stringify(row, (_k, v: unknown) =>
        v instanceof Uint8Array ? Buffer.from(v).toString('base64') : typeof v === 'bigint' ? `${v}n` : v,
      ),
    );
  }
  return h.digest('hex');
}

function tree(dir: string, prefix = ''): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) Object.assign(out, tree(p, `${prefix}${e.name}/`));
    else out[`${prefix}${e.name}`] = readFileSync(p);
  }
  return out;
}

describe('hub: each catalog set fetched from the fixture Hub and converted (the same rows as offline)', function () {
  this.timeout(120_000);
  let hub: HubServer;
  let tmp: string;
  /** each entry with a pinned revision and its fixture's row count */
  const entries: BenchmarkEntry[] = [];

  before(async () => {
    for (const e of CATALOG) {
      const pinned = { ...e, revision: /^[0-9a-f]{40}$/.test(e.revision) ? e.revision : 'f'.repeat(40) };
      const { total } = await countSourceRows(pinned, offlineFiles(path.join(HUB_FIXTURES, e.repo)));
      entries.push({ ...pinned, rows: total });
    }
    // one repository per Hub repo id; HR-Bench 4K and 8K share one
    const repos = new Map<string, { id: string; commit: string; files: Record<string, Buffer> }>();
    for (const e of entries) repos.set(e.repo, { id: e.repo, commit: e.revision, files: tree(path.join(HUB_FIXTURES, e.repo)) });
    hub = await startHubServer({ repos: [...repos.values()] });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-hubcatalog-'));
  });
  after(async () => {
    await hub?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('every set: downloaded, converted, identical to the offline conversion, then reused', async () => {
    assert.equal(entries.length, CATALOG.length);
    const settings = hubSettings({}, { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf') });
    for (const e of entries) {
      hub.requests.length = 0;
      const got = await prepareBenchmark(e, { settings });
      assert.equal(got.reused, false, e.name);
      assert.equal(got.rows, e.rows, e.name);
      assert.equal((await parquetInfo(got.parquet)).rowCount, e.rows, e.name);
      // (HR-Bench 4K and 8K fixtures may share a blob: then nothing new is downloaded, but the Hub is asked)
      assert.ok(
        hub.requests.some((r) => r.path.includes('/paths-info/')),
        `${e.name}: fetched through the fixture Hub`,
      );
      const offline = await prepareBenchmark(e, {
        settings,
        offlineDir: path.join(HUB_FIXTURES, e.repo),
        out: path.join(tmp, `${e.name}.parquet`),
      });
      assert.equal(
        await rowsSha(got.parquet),
        await rowsSha(offline.parquet),
        `${e.name}: the Hub path and the offline copy convert to the same rows`,
      );
      assert.match(readFileSync(offline.parquet).toString('latin1'), /"offline_copy":true/, `${e.name}: the offline conversion says so`);
      assert.doesNotMatch(
        readFileSync(got.parquet).toString('latin1'),
        /"offline_copy"/,
        `${e.name}: the Hub conversion is not an offline copy`,
      );
      hub.requests.length = 0;
      const again = await prepareBenchmark(e, { settings });
      assert.deepEqual([again.reused, again.parquet, hub.requests.length], [true, got.parquet, 0], e.name);
    }
  });
});
