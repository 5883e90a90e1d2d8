import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobsError } from '../../../src/core/jobs/errors';
import {
  loadProfiles,
  mergeProfiles,
  parseJsonc,
  profileEndpoint,
  profilesFromJson,
  secretStorageKey,
  type ProfileEntry,
} from '../../../src/core/jobs/profiles';
import type { ClusterProfile } from '../../../src/core/jobs/types';

describe('jobs: where cluster profiles come from', () => {
  let tmp: string;
  let home: string;
  let repo: string;
  const env = {};
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'jobs-profiles-'));
    home = path.join(tmp, 'home');
    repo = path.join(tmp, 'cloned-repo');
    mkdirSync(path.join(home, '.codedance'), { recursive: true });
    mkdirSync(path.join(repo, '.vscode'), { recursive: true });
    writeFileSync(
      path.join(home, '.codedance/clusters.json'),
      JSON.stringify([{ name: 'lab', kind: 'ray', address: 'http://10.1.1.1:8265' }]),
    );
    // a cloned repository that wants the user's token: the same name, its own server
    writeFileSync(
      path.join(repo, '.vscode/settings.json'),
      '{\n // hi\n "codedance.jobs.clusters": [{ "name": "lab", "kind": "ray", "address": "http://evil.example:8265" }, { "name": "repo-ray", "kind": "ray", "address": "http://127.0.0.1:8265" },],\n}\n',
    );
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("reads only the user's profiles unless workspace profiles are asked for, and says so", () => {
    const r = loadProfiles({ cwd: repo, home, env });
    assert.deepEqual(
      r.entries.map((e) => [e.profile.name, e.origin, e.profile.kind === 'ray' && e.profile.address]),
      [['lab', 'user', 'http://10.1.1.1:8265']],
    );
    assert.equal(r.workspaceIgnored, path.join(repo, '.vscode/settings.json'));
  });

  it("with workspace profiles on, the user's profile of the same name still wins; the rest are marked workspace", () => {
    const r = loadProfiles({ cwd: repo, home, env, workspace: true });
    assert.deepEqual(
      r.entries.map((e) => [e.profile.name, e.origin, e.profile.kind === 'ray' && e.profile.address]),
      [
        ['lab', 'user', 'http://10.1.1.1:8265'],
        ['repo-ray', 'workspace', 'http://127.0.0.1:8265'],
      ],
    );
    assert.deepEqual(
      r.shadowed.map((e) => [e.profile.name, e.source]),
      [['lab', path.join(repo, '.vscode/settings.json')]],
    );
  });

  it("an explicit clusters file is the user's; a missing one is a clear error", () => {
    const f = path.join(tmp, 'mine.json');
    writeFileSync(f, JSON.stringify({ 'codedance.jobs.clusters': [{ name: 'hpc', kind: 'slurm', host: 'login' }] }));
    assert.deepEqual(
      loadProfiles({ file: f, cwd: repo, home, env }).entries.map((e) => [e.profile.name, e.origin]),
      [['hpc', 'user']],
    );
    assert.deepEqual(
      loadProfiles({ cwd: repo, home, env: { CODEDANCE_CLUSTERS: f } }).entries.map((e) => e.profile.name),
      ['hpc'],
    );
    assert.throws(() => loadProfiles({ file: path.join(tmp, 'nope.json'), home, env }), /clusters file not found/);
  });

  it('mergeProfiles: user first, shadowed workspace entries reported', () => {
    const u = (name: string): ProfileEntry => ({ profile: { name, kind: 'slurm', host: 'u' }, origin: 'user', source: 'user' });
    const w = (name: string): ProfileEntry => ({ profile: { name, kind: 'slurm', host: 'w' }, origin: 'workspace', source: 'ws' });
    const m = mergeProfiles([u('a'), u('b')], [w('b'), w('c')]);
    assert.deepEqual(
      m.entries.map((e) => `${e.profile.name}:${e.origin}`),
      ['a:user', 'b:user', 'c:workspace'],
    );
    assert.deepEqual(
      m.shadowed.map((e) => e.profile.name),
      ['b'],
    );
  });
});

describe('jobs: settings-style files (JSON with comments)', () => {
  it('keeps ",}" and "//" inside strings while dropping comments and trailing commas', () => {
    const text =
      '{\n  // a comment, with a comma,}\n  /* a block, comment ] */\n  "codedance.jobs.clusters": [\n    { "name": "a,}b", "kind": "slurm", "host": "h//x", "user": "u,]v", },\n  ],\n}\n';
    assert.deepEqual(parseJsonc(text, 'settings.json'), {
      'codedance.jobs.clusters': [{ name: 'a,}b', kind: 'slurm', host: 'h//x', user: 'u,]v' }],
    });
    assert.deepEqual(
      profilesFromJson(text, 'settings.json').map((p) => p.name),
      ['a,}b'],
    );
  });

  it('names the file, the line and the column of a syntax error', () => {
    assert.throws(
      () => parseJsonc('{\n  "a": 1,\n  "b" 2\n}', '/home/u/.codedance/clusters.json'),
      (e: Error) => {
        assert.ok(e instanceof JobsError);
        assert.match(e.message, /^\/home\/u\/\.codedance\/clusters\.json is not valid JSON: ColonExpected at line 3, column 7/);
        return true;
      },
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jobs-jsonc-'));
    try {
      writeFileSync(path.join(dir, 'bad.json'), '[\n  {"name": "x",\n');
      assert.throws(
        () => loadProfiles({ file: path.join(dir, 'bad.json'), home: dir, cwd: dir, env: {} }),
        /bad\.json is not valid JSON: PropertyNameExpected at line 3, column 1/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('jobs: secrets are keyed by profile and address', () => {
  it('another address (or user/host/port) is another key; the same address spelled alike is the same key', () => {
    const ray: ClusterProfile = { name: 'lab', kind: 'ray', address: 'http://10.1.1.1:8265' };
    const k = secretStorageKey(ray, 'token');
    assert.match(k, /^codedance\.jobs\.token\.lab\.[0-9a-f]{16}$/);
    assert.equal(secretStorageKey({ ...ray, address: '10.1.1.1:8265/' }, 'token'), k);
    assert.notEqual(secretStorageKey({ ...ray, address: 'http://evil.example:8265' }, 'token'), k);
    assert.notEqual(secretStorageKey({ ...ray, name: 'other' }, 'token'), k);
    const s: ClusterProfile = { name: 'hpc', kind: 'slurm', host: 'login', user: 'me' };
    assert.equal(profileEndpoint(s), 'me@login:22');
    assert.equal(secretStorageKey({ ...s, port: 22 }, 'passphrase'), secretStorageKey(s, 'passphrase'));
    for (const other of [
      { ...s, host: 'login2' },
      { ...s, user: 'you' },
      { ...s, port: 2222 },
    ])
      assert.notEqual(secretStorageKey(other, 'passphrase'), secretStorageKey(s, 'passphrase'));
    assert.notEqual(secretStorageKey(s, 'password'), secretStorageKey(s, 'passphrase'));
  });
});
