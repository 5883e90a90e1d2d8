/**
 * ProxyJump / ProxyCommand: how ssh_config and a profile's `proxyJump` become a route of jump
 * hosts (src/core/jobs/sshRoute.ts), checked against OpenSSH's own reading (`ssh -G`) where ssh
 * is installed. The connections themselves: test/integration/jobs/sshProxy.test.ts.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseClusterProfile } from '../../../src/core/jobs';
import { JobsError } from '../../../src/core/jobs/errors';
import { parseProxyJump, parseSshConfig } from '../../../src/core/jobs/sshConfig';
import { resolveSshTarget } from '../../../src/core/jobs/sshRoute';

const me = os.userInfo().username;

describe('jobs: ProxyJump and ProxyCommand in ssh_config', () => {
  it('reads ProxyJump lists as ssh does: [user@]host[:port], ssh:// URIs, [IPv6], none', () => {
    assert.deepEqual(parseProxyJump('none'), { kind: 'none' });
    assert.deepEqual(parseProxyJump('a@b:2222,c'), { kind: 'jump', hops: [{ user: 'a', host: 'b', port: 2222 }, { host: 'c' }] });
    assert.deepEqual(parseProxyJump('ssh://u@h:2200,h2'), { kind: 'jump', hops: [{ user: 'u', host: 'h', port: 2200 }, { host: 'h2' }] });
    assert.deepEqual(parseProxyJump('u@[::1]:2200'), { kind: 'jump', hops: [{ user: 'u', host: '::1', port: 2200 }] });
    assert.deepEqual(parseProxyJump('[::1]'), { kind: 'jump', hops: [{ host: '::1' }] });
    // the user is everything before the last @; an empty port is no port (both as `ssh -G` reads them)
    assert.deepEqual(parseProxyJump('a@b@c'), { kind: 'jump', hops: [{ user: 'a@b', host: 'c' }] });
    assert.deepEqual(parseProxyJump('h:'), { kind: 'jump', hops: [{ host: 'h' }] });
    // what `ssh -G` refuses as "Invalid ProxyJump"
    for (const bad of ['u@h:0', 'u@h:99999', ':22', 'h,,k', 'h, k', 'h:x'])
      assert.throws(() => parseProxyJump(bad), new RegExp(`invalid ProxyJump "${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`), bad);
  });

  it('the first of ProxyJump / ProxyCommand wins for a host; none switches both off; a command keeps its quotes', () => {
    const cfg = [
      'Host jc',
      '  ProxyJump b1',
      '  ProxyCommand nc %h %p',
      'Host cj',
      '  ProxyCommand ssh -W "[%h]:%p" b2',
      '  ProxyJump b3',
      'Host direct',
      '  ProxyJump none',
      'Host *',
      '  ProxyJump fallback',
      '',
    ].join('\n');
    assert.deepEqual(parseSshConfig(cfg, 'jc').proxy, { kind: 'jump', hops: [{ host: 'b1' }] });
    assert.deepEqual(parseSshConfig(cfg, 'cj').proxy, { kind: 'command', command: 'ssh -W "[%h]:%p" b2' });
    assert.deepEqual(parseSshConfig(cfg, 'direct').proxy, { kind: 'none' });
    assert.deepEqual(parseSshConfig(cfg, 'other').proxy, { kind: 'jump', hops: [{ host: 'fallback' }] });
  });

  it('agrees with OpenSSH (`ssh -G`) on HostName, User, Port, ProxyJump and ProxyCommand', function () {
    if (!existsSync('/usr/bin/ssh')) this.skip();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sshg-'));
    try {
      const file = path.join(dir, 'config');
      const text = [
        'Host login*.hpc !login9.hpc',
        '  HostName %h.example.org',
        '  User alice',
        '  Port 2222',
        '  ProxyJump bob@gate.example.org:2022,inner',
        'Host login9.hpc',
        '  ProxyCommand nc -X connect -x proxy:3128 %h %p',
        '  ProxyJump ignored',
        'Host plain',
        '  ProxyJump none',
        'Host *',
        '  User fallback',
        '  ProxyJump ssh://edge',
        '',
      ].join('\n');
      writeFileSync(file, text);
      for (const host of ['login1.hpc', 'login9.hpc', 'plain', 'elsewhere']) {
        const g = Object.fromEntries(
          execFileSync('ssh', ['-G', '-F', file, host], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
            .split('\n')
            .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]),
        );
        const ours = parseSshConfig(text, host);
        assert.equal(ours.hostName ?? host, g.hostname, `${host}: hostname`);
        assert.equal(ours.user ?? me, g.user, `${host}: user`);
        assert.equal(String(ours.port ?? 22), g.port, `${host}: port`);
        const p = ours.proxy;
        assert.equal(p?.kind === 'command' ? p.command : undefined, g.proxycommand, `${host}: proxycommand`);
        const jump =
          p?.kind === 'jump'
            ? p.hops.map((h) => `${h.user ? `${h.user}@` : ''}${h.host}${h.port ? `:${h.port}` : ''}`).join(',')
            : undefined;
        assert.equal(jump, g.proxyjump?.replace(/ssh:\/\//g, ''), `${host}: proxyjump`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('jobs: the route to a cluster (sshRoute)', () => {
  let dir: string;
  let file: string;
  const key = (name: string) => path.join(dir, name);
  const route = (host: string, cfg: string, extra: Record<string, unknown> = {}) => {
    writeFileSync(file, cfg);
    return resolveSshTarget({ host, sshConfig: file, ...extra });
  };

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sshroute-'));
    file = path.join(dir, 'config');
    for (const k of ['k-target', 'k-a', 'k-b', 'k-profile']) writeFileSync(key(k), 'not a real key\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('dials a list in order; each hop takes its own Host block; user@/:port in the list win', () => {
    const t = route(
      'cluster',
      [
        'Host cluster',
        '  HostName login.hpc',
        '  User me',
        `  IdentityFile ${key('k-target')}`,
        '  ProxyJump alice@a:2201,b',
        'Host a',
        '  HostName gate-a.example.org',
        '  User ignored-by-list',
        '  Port 9999',
        `  IdentityFile ${key('k-a')}`,
        'Host b',
        '  HostName 10.0.0.2',
        '  Port 2202',
        `  IdentityFile ${key('k-b')}`,
        '',
      ].join('\n'),
    );
    assert.equal(t.label, 'me@login.hpc:22');
    assert.deepEqual(t.identityFiles, [key('k-target')]);
    assert.deepEqual(
      t.jumps.map((j) => [j.alias, j.label, j.identityFiles]),
      [
        ['a', 'alice@gate-a.example.org:2201', [key('k-a')]],
        ['b', `${me}@10.0.0.2:2202`, [key('k-b')]],
      ],
    );
    assert.equal(t.proxyCommand, undefined);
  });

  it("follows OpenSSH: the first hop's own ProxyJump is followed, the later hops' are not (they get the rest of the list as -J)", () => {
    const cfg = [
      'Host t',
      '  ProxyJump a,b',
      'Host a',
      '  ProxyJump z',
      'Host b',
      '  ProxyJump never-used',
      'Host z',
      '  Port 2200',
      '',
    ].join('\n');
    assert.deepEqual(
      route('t', cfg).jumps.map((j) => j.alias),
      ['z', 'a', 'b'],
    );
    // a single jump host is reached as its own Host block says, recursively
    const single = ['Host t', '  ProxyJump b', 'Host b', '  ProxyJump a', 'Host a', '  ProxyJump z', ''].join('\n');
    assert.deepEqual(
      route('t', single).jumps.map((j) => j.alias),
      ['z', 'a', 'b'],
    );
  });

  it("a profile's proxyJump is ssh's -J: it replaces ssh_config's ProxyJump/ProxyCommand; none goes directly; profile key/user/port are the target's only", () => {
    const cfg = [
      'Host t',
      '  ProxyCommand nc %h %p',
      '  User cfg-user',
      'Host gate',
      '  HostName gate.example.org',
      `  IdentityFile ${key('k-a')}`,
      '',
    ].join('\n');
    const viaProfile = route('t', cfg, { proxyJump: 'ops@gate:2022', identityFile: key('k-profile'), user: 'u', port: 2300 });
    assert.equal(viaProfile.proxyCommand, undefined);
    assert.equal(viaProfile.label, 'u@t:2300');
    assert.deepEqual(viaProfile.identityFiles, [key('k-profile')]);
    assert.deepEqual(
      viaProfile.jumps.map((j) => [j.label, j.identityFiles]),
      [['ops@gate.example.org:2022', [key('k-a')]]],
    );
    const direct = route('t', cfg, { proxyJump: 'none' });
    assert.deepEqual([direct.jumps, direct.proxyCommand], [[], undefined]);
    assert.throws(
      () => route('t', cfg, { proxyJump: 'gate:0' }),
      (e: unknown) =>
        e instanceof JobsError &&
        e.code === 'config' &&
        /proxyJump of the cluster profile for t: invalid ProxyJump "gate:0"/.test(e.message),
    );
  });

  it('expands ProxyCommand tokens with the values of the hop it reaches (the first jump host, or the target)', () => {
    const cfg = ['Host t', '  HostName login.hpc', '  Port 2222', '  User me', '  ProxyCommand ssh -W %h:%p -l %r gw # %n %%', ''].join(
      '\n',
    );
    assert.equal(route('t', cfg).proxyCommand, 'ssh -W login.hpc:2222 -l me gw # t %');
    const first = [
      'Host t',
      '  ProxyJump a,b',
      'Host a',
      '  HostName 10.1.1.1',
      '  ProxyCommand connect-proxy %h %p',
      'Host b',
      '  ProxyCommand never-used',
      '',
    ].join('\n');
    const r = route('t', first);
    assert.deepEqual(
      r.jumps.map((j) => j.alias),
      ['a', 'b'],
    );
    assert.equal(r.proxyCommand, 'connect-proxy 10.1.1.1 22');
    assert.throws(() => route('t', ['Host t', '  ProxyCommand nc %h %Z', ''].join('\n')), /ProxyCommand for t has an unknown token %Z/);
  });

  it('names the file and host of a bad ProxyJump, and stops a loop', () => {
    assert.throws(
      () => route('t', 'Host t\n  ProxyJump a,,b\n'),
      (e: unknown) => e instanceof JobsError && e.code === 'config' && e.message.includes(`${file}, Host t: invalid ProxyJump "a,,b"`),
    );
    assert.throws(
      () => route('t', 'Host t\n  ProxyJump a\nHost a\n  ProxyJump b\nHost b\n  ProxyJump a\n'),
      /ProxyJump chain to t is longer than 10 hops \(t ← a ← b ← a .*a loop in/,
    );
  });

  it('a cluster profile with proxyJump is checked when it is read', () => {
    const ok = parseClusterProfile({ name: 'hpc', kind: 'slurm', host: 'login', proxyJump: 'me@gate:2022,inner' });
    assert.equal((ok as { proxyJump?: string }).proxyJump, 'me@gate:2022,inner');
    assert.throws(
      () => parseClusterProfile({ name: 'hpc', kind: 'slurm', host: 'login', proxyJump: 'gate, inner' }),
      /cluster 'hpc': "proxyJump": invalid ProxyJump/,
    );
    assert.throws(
      () => parseClusterProfile({ name: 'hpc', kind: 'slurm', host: 'login', proxyJump: ['gate'] }),
      /cluster 'hpc': "proxyJump" must be a string/,
    );
  });
});
