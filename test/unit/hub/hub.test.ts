/**
 * The Hub layer's pure parts: the environment read as huggingface_hub reads it, the RL template's
 * train/val files from what was fetched, the cluster job's script and its log, progress text,
 * paths that must stay inside a snapshot.
 */
import { strict as assert } from 'node:assert';
import os from 'node:os';
import path from 'node:path';
import { pointerPath, safeRepoPath } from '../../../src/core/hub/cacheLayout';
import { clusterFetchJob, fetchedFromLog } from '../../../src/core/hub/clusterFetch';
import { HubError } from '../../../src/core/hub/errors';
import { progressText, SpeedMeter } from '../../../src/core/hub/progress';
import { splitDataFiles, templateFlags, underRoot } from '../../../src/core/hub/rlData';
import { envTrue, hubSettings } from '../../../src/core/hub/settings';
import { processSecrets } from '../../../src/core/secrets';

describe('hub: settings from the environment (as huggingface_hub reads them)', () => {
  it('cache: HF_HUB_CACHE, then HUGGINGFACE_HUB_CACHE, then HF_HOME/hub, then XDG_CACHE_HOME, then ~/.cache', () => {
    assert.equal(hubSettings({}, { HF_HUB_CACHE: '/a', HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c' }).cacheDir, '/a');
    assert.equal(hubSettings({}, { HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c' }).cacheDir, '/b');
    assert.equal(hubSettings({}, { HF_HOME: '/c' }).cacheDir, '/c/hub');
    assert.equal(hubSettings({}, { XDG_CACHE_HOME: '/x' }).cacheDir, '/x/huggingface/hub');
    assert.equal(hubSettings({}, {}).cacheDir, path.join(os.homedir(), '.cache/huggingface/hub'));
    assert.equal(hubSettings({}, { HF_HOME: '/c' }).assetsDir, '/c/assets');
    assert.equal(hubSettings({}, { HF_HOME: '/c', HF_ASSETS_CACHE: '/d' }).assetsDir, '/d');
  });

  it('endpoint: a flag, else HF_ENDPOINT, else huggingface.co; no trailing slash', () => {
    assert.equal(hubSettings({}, {}).endpoint, 'https://huggingface.co');
    assert.equal(hubSettings({}, { HF_ENDPOINT: 'https://hf-mirror.com/' }).endpoint, 'https://hf-mirror.com');
    assert.equal(hubSettings({ endpoint: 'http://127.0.0.1:9' }, { HF_ENDPOINT: 'https://hf-mirror.com' }).endpoint, 'http://127.0.0.1:9');
  });

  it("offline: HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE with Python's true words", () => {
    for (const v of ['1', 'ON', 'yes', 'True']) assert.equal(envTrue(v), true, v);
    for (const v of ['0', 'off', '', undefined, 'no']) assert.equal(envTrue(v), false, String(v));
    assert.equal(hubSettings({}, { HF_HUB_OFFLINE: '1' }).offline, true);
    assert.equal(hubSettings({}, { TRANSFORMERS_OFFLINE: 'yes' }).offline, true);
    assert.equal(hubSettings({}, {}).offline, false);
  });

  it('token: the caller’s (SecretStorage) first, then HF_TOKEN, then HUGGING_FACE_HUB_TOKEN; it joins redaction', () => {
    const s = hubSettings({}, { HF_TOKEN: 'hf_unitTokenOne1234', HUGGING_FACE_HUB_TOKEN: 'hf_unitTokenTwo1234', HF_HOME: '/nonexistent' });
    assert.deepEqual([s.token, s.tokenSource], ['hf_unitTokenOne1234', 'HF_TOKEN']);
    const t = hubSettings({}, { HUGGING_FACE_HUB_TOKEN: 'hf_unitTokenTwo1234', HF_HOME: '/nonexistent' });
    assert.deepEqual([t.token, t.tokenSource], ['hf_unitTokenTwo1234', 'HUGGING_FACE_HUB_TOKEN']);
    const u = hubSettings({ token: 'hf_unitSecretStore99', tokenSource: 'VS Code SecretStorage' }, { HF_TOKEN: 'hf_unitTokenOne1234' });
    assert.deepEqual([u.token, u.tokenSource], ['hf_unitSecretStore99', 'VS Code SecretStorage']);
    assert.equal(hubSettings({}, { HF_HOME: '/nonexistent' }).token, undefined);
    assert.equal(processSecrets.redact('sent hf_unitTokenOne1234'), 'sent ***');
  });
});

describe('hub: the RL template’s data files from what was fetched', () => {
  it('push_to_hub shards: train-* train, validation-/test-* validate', () => {
    const f = splitDataFiles([
      'README.md',
      'data/train-00001-of-00002.parquet',
      'data/train-00000-of-00002.parquet',
      'data/validation-00000-of-00001.parquet',
      'data/test-00000-of-00001.parquet',
    ]);
    assert.deepEqual(f, {
      train: ['data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet'],
      val: ['data/test-00000-of-00001.parquet', 'data/validation-00000-of-00001.parquet'],
    });
  });

  it('no file says train: every parquet file that is not a validation split trains', () => {
    assert.deepEqual(splitDataFiles(['rl/part_a.parquet', 'rl/part_b.parquet', 'notes.txt']), {
      train: ['rl/part_a.parquet', 'rl/part_b.parquet'],
      val: [],
    });
    // "contest" is not a test split, "trainer" is not train
    assert.deepEqual(splitDataFiles(['contest.parquet', 'val/x.parquet']), { train: ['contest.parquet'], val: ['val/x.parquet'] });
  });

  it('paths under the folder, and the flags of codedance jobs submit (a note when no validation file)', () => {
    assert.deepEqual(underRoot('/data/rl', ['data/train-0.parquet']), ['/data/rl/data/train-0.parquet']);
    const t = templateFlags({ train: ['/d/a.parquet', '/d/b.parquet'], val: [] });
    assert.deepEqual(t.flags, ['--train-files /d/a.parquet,/d/b.parquet']);
    assert.match(t.note ?? '', /data\.val_files keeps the template's/);
    assert.deepEqual(templateFlags({ train: ['/d/a.parquet'], val: ['/d/v.parquet'] }), {
      flags: ['--train-files /d/a.parquet', '--val-files /d/v.parquet'],
      note: undefined,
    });
  });
});

describe('hub: the cluster fetch job', () => {
  it("runs the ecosystem's downloader into --to, lists the parquet files; the token only as a secret of the job", () => {
    const spec = clusterFetchJob({
      repo: 'Peterwatwec/CodeDance-RL',
      revision: 'main',
      to: 'data/codedance-rl',
      settings: { endpoint: 'https://hf-mirror.com', token: 'hf_unitJobToken12345' },
    });
    assert.match(
      spec.entrypoint,
      /if command -v hf .* then hf download "\$REPO" --repo-type dataset --revision "\$REV" --local-dir "\$DEST"/,
    );
    assert.match(spec.entrypoint, /elif command -v huggingface-cli /);
    assert.match(spec.entrypoint, /snapshot_download/);
    assert.match(spec.entrypoint, /exit 127; fi/);
    assert.ok(!spec.entrypoint.includes('hf_unitJobToken12345') && !JSON.stringify(spec.env).includes('hf_unitJobToken12345'));
    assert.deepEqual(spec.secretEnv, { HF_TOKEN: 'hf_unitJobToken12345' });
    assert.equal(spec.env.HF_ENDPOINT, 'https://hf-mirror.com');
    assert.equal(spec.gpusPerNode, 0);
    assert.equal(
      clusterFetchJob({ repo: 'a/b', revision: 'main', to: 'd', settings: { endpoint: 'https://huggingface.co' } }).env.HF_ENDPOINT,
      undefined,
    );
  });

  it('refuses a repository id or folder that is not plain', () => {
    assert.throws(() => clusterFetchJob({ repo: 'a/b;rm -rf /', revision: 'main', to: 'd', settings: { endpoint: 'x' } }), HubError);
    assert.throws(() => clusterFetchJob({ repo: 'a/b', revision: 'main', to: 'd $(x)', settings: { endpoint: 'x' } }), HubError);
  });

  it('reads the folder and the files back from the log', () => {
    const log =
      'Fetching 3 files\nCODEDANCE_DEST /scratch/u/data/rl\nCODEDANCE_FETCHED data/train-00000-of-00002.parquet\r\nCODEDANCE_FETCHED data/train-00001-of-00002.parquet\ndone\n';
    assert.deepEqual(fetchedFromLog(log), {
      dest: '/scratch/u/data/rl',
      files: ['data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet'],
    });
  });
});

describe('hub: progress and paths', () => {
  it('speed over a sliding window; the text has size, speed and time left', () => {
    let t = 0;
    const m = new SpeedMeter(() => t);
    assert.equal(m.sample(0), 0);
    t = 1000;
    assert.equal(m.sample(10 * 1024 * 1024), 10 * 1024 * 1024);
    t = 7000; // the first sample is now out of the 5 s window
    assert.equal(m.sample(16 * 1024 * 1024), 1024 * 1024);
    assert.equal(
      progressText({ file: 'x', bytes: 1024 ** 3, total: 3 * 1024 ** 3, bytesPerSec: 64 * 1024 ** 2, filesDone: 0, files: 2 }),
      '1.0 GiB / 3.0 GiB · 64 MiB/s · 0:32 left · file 1/2',
    );
  });

  it('a repository path stays inside the snapshot', () => {
    assert.equal(safeRepoPath('data/./x.parquet'), 'data/x.parquet');
    for (const bad of ['../x', '/etc/passwd', 'a/../../x', 'a\\b', '']) assert.throws(() => safeRepoPath(bad), HubError, bad);
    assert.equal(pointerPath('/c/datasets--o--n', 'c0ffee', 'data/x.parquet'), '/c/datasets--o--n/snapshots/c0ffee/data/x.parquet');
  });
});
