/**
 * Hub downloads (src/core/hub) against the fixture Hub on 127.0.0.1 (test/fixtures/hub-server.ts):
 * the cache layout Python's huggingface_hub uses, resume after a cut connection and after a
 * cancel or a killed process, a corrupted blob refused, offline mode, HF_ENDPOINT, the token
 * (sent as Bearer to the Hub only, never in a message), gated sets, the disk space checked first.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { scanCachedRepo } from '@huggingface/hub';
import { fetchFiles, HubError, hubSettings, type HubProgress, type HubSettings } from '../../../src/core/hub';
import { fixtureHashes, startHubServer, type HubServer } from '../../fixtures/hub-server';
import { mountTmpfs } from '../../fixtures/tmpfs';

const COMMIT = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef';
const TOKEN = 'hf_fixtureTokenAbcdef123456';
const big = randomBytes(3 * 1024 * 1024 + 17);
const parquet = randomBytes(200_000);
const readme = '---\nlicense: mit\n---\n# a fixture set\n';
const repo = { id: 'org/set', type: 'dataset' as const };

function python(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn('/usr/bin/python3', args, { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', reject);
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function rejects(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HubError, `expected a HubError, got ${(e as Error)?.stack ?? String(e)}`);
    return e;
  }
  assert.fail('expected it to fail');
}

describe('hub: downloads into the Hugging Face cache (fixture Hub on 127.0.0.1)', function () {
  this.timeout(60000);
  let hub: HubServer;
  let tmp: string;
  let cache: string;
  let settings: HubSettings;

  before(async () => {
    hub = await startHubServer({
      pageSize: 2,
      repos: [
        { id: 'org/set', commit: COMMIT, files: { 'README.md': readme, 'data/test-00000-of-00001.parquet': parquet, 'big/blob.bin': big } },
        { id: 'org/gated', commit: COMMIT, files: { 'data.parquet': parquet }, gatedFor: [TOKEN] },
      ],
    });
  });
  after(() => hub.close());
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-hub-'));
    cache = path.join(tmp, 'hf', 'hub');
    // the environment a user has: HF_ENDPOINT (a mirror) and HF_HOME
    settings = hubSettings({}, { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf') });
    hub.requests.length = 0;
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const folder = () => path.join(cache, 'datasets--org--set');
  /** the CDN's downloads (not @huggingface/hub's 1-byte size probes) */
  const cdnGets = () => hub.requests.filter((r) => r.server === 'cdn' && r.method === 'GET' && r.range !== 'bytes=0-0');

  it('lands in the layout Python reads: blobs by hash, relative snapshot links, refs/main, nothing partial', async () => {
    assert.equal(settings.cacheDir, cache, 'HF_HOME/hub');
    assert.equal(settings.endpoint, hub.url, 'HF_ENDPOINT');
    const got = await fetchFiles(repo, 'main', 'all', { settings });
    assert.equal(got.commit, COMMIT);
    assert.deepEqual(got.files.map((f) => f.path).sort(), ['README.md', 'big/blob.bin', 'data/test-00000-of-00001.parquet']);
    const sha = fixtureHashes.sha256(parquet);
    const oid = fixtureHashes.gitOid(Buffer.from(readme));
    assert.deepEqual(readdirSync(path.join(folder(), 'blobs')).sort(), [fixtureHashes.sha256(big), sha, oid].sort());
    assert.equal(readlinkSync(path.join(folder(), 'snapshots', COMMIT, 'README.md')), `../../blobs/${oid}`);
    assert.equal(readlinkSync(path.join(folder(), 'snapshots', COMMIT, 'data/test-00000-of-00001.parquet')), `../../../blobs/${sha}`);
    assert.equal(readFileSync(path.join(folder(), 'refs', 'main'), 'utf8'), COMMIT, 'refs/main holds the commit, no newline');
    assert.deepEqual(readFileSync(path.join(folder(), 'snapshots', COMMIT, 'big/blob.bin')), big);
    // @huggingface/hub's port of huggingface_hub's scan_cache_dir reads it back
    const scanned = await scanCachedRepo(folder());
    assert.deepEqual(scanned.id, { name: 'org/set', type: 'dataset' });
    assert.deepEqual(
      scanned.revisions.map((r) => [r.commitOid, r.refs]),
      [[COMMIT, ['main']]],
    );
    // the paged tree listing was followed (pageSize 2)
    assert.ok(hub.requests.filter((r) => r.path.includes('/tree/')).length >= 2);
  });

  it('python3 huggingface_hub finds the files offline (when it is installed)', async function () {
    const probe = spawnSync('/usr/bin/python3', ['-c', 'import huggingface_hub'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.log('      skipped: /usr/bin/python3 cannot import huggingface_hub (the layout is checked against its documented one above)');
      this.skip();
    }
    await fetchFiles(repo, 'main', 'all', { settings });
    const py = [
      'import sys, huggingface_hub as h',
      'p = h.hf_hub_download("org/set", "data/test-00000-of-00001.parquet", repo_type="dataset", cache_dir=sys.argv[1], local_files_only=True)',
      'print(p)',
      'print(h.try_to_load_from_cache("org/set", "README.md", cache_dir=sys.argv[1], repo_type="dataset"))',
    ].join('\n');
    const r = spawnSync('/usr/bin/python3', ['-c', py, cache], { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' } });
    assert.equal(r.status, 0, r.stderr);
    const [a, b] = r.stdout.trim().split('\n');
    assert.equal(a, path.join(folder(), 'snapshots', COMMIT, 'data', 'test-00000-of-00001.parquet'));
    assert.equal(b, path.join(folder(), 'snapshots', COMMIT, 'README.md'));
  });

  it('and the other way round: what python3 huggingface_hub downloads from the fixture Hub, read offline (when installed)', async function () {
    if (spawnSync('/usr/bin/python3', ['-c', 'import huggingface_hub'], { encoding: 'utf8' }).status !== 0) {
      console.log('      skipped: /usr/bin/python3 cannot import huggingface_hub');
      this.skip();
    }
    const py = 'import sys, huggingface_hub as h\nprint(h.snapshot_download("org/set", repo_type="dataset", cache_dir=sys.argv[1]))';
    // asynchronously: the fixture Hub answers from this process
    const r = await python(['-c', py, cache], { HF_ENDPOINT: hub.url, HF_HUB_DISABLE_XET: '1', HF_HUB_DISABLE_TELEMETRY: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), path.join(folder(), 'snapshots', COMMIT));
    hub.requests.length = 0;
    const offline = hubSettings({}, { HF_HOME: path.join(tmp, 'hf'), HF_HUB_OFFLINE: '1' });
    const got = await fetchFiles(repo, 'main', 'all', { settings: offline, verifyCached: true });
    assert.deepEqual(got.files.map((f) => f.path).sort(), ['README.md', 'big/blob.bin', 'data/test-00000-of-00001.parquet']);
    assert.deepEqual(readFileSync(got.files.find((f) => f.path === 'big/blob.bin')!.file), big);
    const online = await fetchFiles(repo, COMMIT, ['big/blob.bin'], { settings });
    assert.equal(online.downloaded, 0);
    assert.deepEqual(hub.requests, []);
  });

  it('a pinned commit already in the cache costs no request', async () => {
    await fetchFiles(repo, COMMIT, ['big/blob.bin'], { settings });
    hub.requests.length = 0;
    const again = await fetchFiles(repo, COMMIT, ['big/blob.bin'], { settings });
    assert.equal(again.downloaded, 0);
    assert.deepEqual(hub.requests, []);
  });

  it('a download cut in the middle resumes from the partial file (Range), and is whole', async () => {
    hub.addFault({ path: 'big/blob.bin', cutAfter: 1_000_000 });
    const seen: HubProgress[] = [];
    const got = await fetchFiles(repo, COMMIT, ['big/blob.bin'], { settings, onProgress: (p) => seen.push(p) });
    const gets = cdnGets();
    assert.equal(gets.length, 2, JSON.stringify(gets));
    assert.equal(gets[0].range, undefined);
    assert.equal(gets[1].range, 'bytes=1000000-', 'resumed where the cut left it');
    assert.deepEqual(readFileSync(got.files[0].file), big);
    assert.equal(got.downloaded, big.length);
    assert.equal(seen.at(-1)?.bytes, big.length);
    assert.equal(seen.at(-1)?.total, big.length);
    assert.ok(
      seen.some((p) => p.bytesPerSec > 0),
      'a speed is reported',
    );
  });

  it('a cancelled download keeps its partial file, and the next call (a window reload) resumes it', async () => {
    const ctrl = new AbortController();
    const e = await rejects(
      fetchFiles(repo, COMMIT, ['big/blob.bin'], { settings, signal: ctrl.signal, onProgress: (p) => p.bytes > 500_000 && ctrl.abort() }),
    );
    assert.equal(e.code, 'cancelled');
    assert.match(e.message, /are kept: run it again to resume/);
    const blob = path.join(folder(), 'blobs', fixtureHashes.sha256(big));
    assert.ok(!existsSync(blob), 'no blob');
    assert.ok(!existsSync(path.join(folder(), 'snapshots', COMMIT, 'big/blob.bin')), 'no snapshot link');
    const kept = readFileSync(`${blob}.incomplete`).length;
    assert.ok(kept > 500_000 && kept < big.length, `kept ${kept}`);
    assert.deepEqual(readFileSync(`${blob}.incomplete`), big.subarray(0, kept), 'the partial file is a prefix of the file');
    hub.requests.length = 0;
    const got = await fetchFiles(repo, COMMIT, ['big/blob.bin'], { settings });
    assert.equal(cdnGets()[0].range, `bytes=${kept}-`);
    assert.equal(got.downloaded, big.length - kept);
    assert.deepEqual(readFileSync(blob), big);
  });

  it('a corrupted download is refused: no blob, no partial file, no link; a clean try then works', async () => {
    hub.addFault({ path: 'big/blob.bin', corrupt: true });
    const e = await rejects(fetchFiles(repo, COMMIT, ['big/blob.bin'], { settings }));
    assert.equal(e.code, 'integrity');
    assert.match(e.message, /refused big\/blob\.bin .*sha256 is [0-9a-f]{64}, the Hub's is [0-9a-f]{64}; the download was deleted/);
    assert.deepEqual(readdirSync(path.join(folder(), 'blobs')), []);
    assert.ok(!existsSync(path.join(folder(), 'snapshots', COMMIT, 'big/blob.bin')));
    const got = await fetchFiles(repo, COMMIT, ['big/blob.bin'], { settings });
    assert.deepEqual(readFileSync(got.files[0].file), big);
  });

  it('a partial file left by a killed process resumes; a damaged cached blob is fetched again when checked', async () => {
    const blobs = path.join(folder(), 'blobs');
    mkdirSync(blobs, { recursive: true });
    const sha = fixtureHashes.sha256(parquet);
    writeFileSync(path.join(blobs, `${sha}.incomplete`), parquet.subarray(0, 12345));
    await fetchFiles(repo, COMMIT, ['data/test-00000-of-00001.parquet'], { settings });
    assert.equal(cdnGets()[0].range, 'bytes=12345-');
    // damage the blob in place: a checked read deletes it and downloads it again
    writeFileSync(path.join(blobs, sha), Buffer.alloc(parquet.length));
    const logs: string[] = [];
    await fetchFiles(repo, COMMIT, ['data/test-00000-of-00001.parquet'], { settings, verifyCached: true, log: (l) => logs.push(l) });
    assert.deepEqual(readFileSync(path.join(blobs, sha)), parquet);
    assert.match(logs.join('\n'), /does not match the Hub's sha256; deleting it and downloading again/);
  });

  it('waits for another process that holds the download, and takes over when it is gone', async () => {
    const sha = fixtureHashes.sha256(parquet);
    mkdirSync(path.join(folder(), 'blobs'), { recursive: true });
    const other = spawn('sleep', ['30']);
    writeFileSync(path.join(folder(), 'blobs', `${sha}.incomplete.lock`), String(other.pid));
    const logs: string[] = [];
    const p = fetchFiles(repo, COMMIT, ['data/test-00000-of-00001.parquet'], { settings, log: (l) => (logs.push(l), other.kill()) });
    const got = await p;
    assert.match(logs.join('\n'), new RegExp(`waiting for process ${other.pid}`));
    assert.deepEqual(readFileSync(got.files[0].file), parquet);
    assert.ok(!existsSync(path.join(folder(), 'blobs', `${sha}.incomplete.lock`)), 'the lock is released');
  });

  it('offline (HF_HUB_OFFLINE) reads the cache only, and a miss names the file and how to fetch it', async () => {
    await fetchFiles(repo, 'main', ['README.md'], { settings });
    const offline = hubSettings({}, { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf'), HF_HUB_OFFLINE: '1' });
    assert.equal(offline.offline, true);
    hub.requests.length = 0;
    const got = await fetchFiles(repo, 'main', ['README.md'], { settings: offline, verifyCached: true });
    assert.equal(got.commit, COMMIT, 'main read from refs/main');
    assert.equal(readFileSync(got.files[0].file, 'utf8'), readme);
    const e = await rejects(
      fetchFiles(repo, 'main', ['big/blob.bin'], { settings: offline, offlineHint: 'run `codedance data benchmark x` online' }),
    );
    assert.equal(e.code, 'offline-miss');
    assert.match(
      e.message,
      /HF_HUB_OFFLINE is set and big\/blob\.bin of datasets\/org\/set at a{8}0123.* is not in the Hugging Face cache .* — run `codedance data benchmark x` online/,
    );
    assert.deepEqual(hub.requests, [], 'offline: not one request');
  });

  it('a gated set: without a token, how to get access; with one, sent as Bearer to the Hub only, never in a message', async () => {
    const gated = { id: 'org/gated', type: 'dataset' as const };
    const e = await rejects(fetchFiles(gated, COMMIT, ['data.parquet'], { settings }));
    assert.equal(e.code, 'gated');
    assert.match(e.message, new RegExp(`open ${hub.url}/datasets/org/gated and accept its terms .*HF_TOKEN`));
    const wrong = hubSettings({}, { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf'), HF_TOKEN: 'hf_wrongTokenZyx987654' });
    const e2 = await rejects(fetchFiles(gated, COMMIT, ['data.parquet'], { settings: wrong }));
    assert.match(e2.message, /with the token from HF_TOKEN: it is gated or private/);
    assert.ok(!e2.message.includes('hf_wrongTokenZyx987654') && !JSON.stringify(e2).includes('hf_wrongTokenZyx987654'));
    hub.requests.length = 0;
    const ok = hubSettings({}, { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf'), HF_TOKEN: TOKEN });
    const got = await fetchFiles(gated, COMMIT, ['data.parquet'], { settings: ok });
    assert.deepEqual(readFileSync(got.files[0].file), parquet);
    const hubReqs = hub.requests.filter((r) => r.server === 'hub');
    assert.ok(hubReqs.length > 0 && hubReqs.every((r) => r.authorization === `Bearer ${TOKEN}`), JSON.stringify(hubReqs));
    assert.ok(cdnGets().length > 0 && cdnGets().every((r) => r.authorization === undefined), 'the token never goes to the CDN');
  });

  it('the token from the file huggingface-cli login writes', () => {
    const home = path.join(tmp, 'hf');
    mkdirSync(home, { recursive: true });
    writeFileSync(path.join(home, 'token'), `${TOKEN}\n`);
    const s = hubSettings({}, { HF_HOME: home });
    assert.equal(s.token, TOKEN);
    assert.equal(s.tokenSource, `the token file ${path.join(home, 'token')}`);
    assert.equal(hubSettings({ token: 'hf_fromSecretStorage123' }, { HF_HOME: home, HF_TOKEN: TOKEN }).token, 'hf_fromSecretStorage123');
  });

  it('an unknown file or repository is an error naming it', async () => {
    const e = await rejects(fetchFiles(repo, COMMIT, ['nope.parquet'], { settings }));
    assert.equal(e.code, 'not-found');
    assert.match(e.message, /datasets\/org\/set has no file 'nope\.parquet' at commit/);
    const e2 = await rejects(fetchFiles({ id: 'org/none', type: 'dataset' }, 'main', 'all', { settings }));
    assert.equal(e2.code, 'not-found');
    assert.match(e2.message, /no such repository: revision 'main' of datasets\/org\/none/);
  });

  it('checks the free space first: the bytes needed and free, and nothing is downloaded', async function () {
    const disk = mountTmpfs(1024 * 1024);
    if ('skip' in disk) {
      console.log(`      skipped: ${disk.skip}`);
      this.skip();
    }
    try {
      const small = hubSettings({}, { HF_ENDPOINT: hub.url, HF_HUB_CACHE: disk.dir });
      const e = await rejects(fetchFiles(repo, COMMIT, ['big/blob.bin'], { settings: small }));
      assert.equal(e.code, 'disk-space');
      assert.equal(e.kind, 'disk-full');
      assert.match(
        e.message,
        new RegExp(
          `not enough disk space to download big/blob\\.bin of datasets/org/set: 3\\.0 MiB \\(${big.length} bytes\\) needed, .* free on the disk mounted at ${realpathSync(disk.dir)}`,
        ),
      );
      assert.match(e.message, /point HF_HUB_CACHE \(or HF_HOME\) at a folder on a disk with room/);
      assert.equal(cdnGets().length, 0);
    } finally {
      disk.unmount();
    }
  });
});
