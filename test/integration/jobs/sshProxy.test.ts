/**
 * ProxyJump and ProxyCommand against real OpenSSH servers on 127.0.0.1: the cluster's sshd
 * (test/fixtures/slurmCluster.ts) plays the login node, extra sshd on other ports play the
 * bastions, with `LogLevel DEBUG1` so their own logs show each forwarded connection. On loopback
 * every server is reachable directly, so the path is proven from the servers' side: the bastion
 * logs a direct-tcpip channel to the login node's port, and the socket the login node's log says
 * the client came from belongs to a process of the bastion's sshd (ss -tnp), not to this one.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { JobsError } from '../../../src/core/jobs/errors';
import { SlurmBackend } from '../../../src/core/jobs/SlurmBackend';
import type { SshProfile } from '../../../src/core/jobs/SshConnection';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../../fixtures/slurmCluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A log file, and what was appended to it since `mark()`. */
class LogWatch {
  private offset = 0;
  constructor(readonly file: string) {}
  mark(): this {
    this.offset = statSync(this.file).size;
    return this;
  }
  text(): string {
    return readFileSync(this.file, 'utf8').slice(this.offset);
  }
  /** the client ports of the logins logged since mark() */
  acceptedFromPorts(): number[] {
    return [...this.text().matchAll(/Accepted publickey for \S+ from 127\.0\.0\.1 port (\d+)/g)].map((m) => Number(m[1]));
  }
  /** the ports sshd opened direct-tcpip channels to since mark() (what ssh -W / ssh2's forwardOut ask for) */
  forwardedTo(): number[] {
    return [...this.text().matchAll(/server_request_direct_tcpip: originator \S+ port \d+, target 127\.0\.0\.1 port (\d+)/g)].map((m) =>
      Number(m[1]),
    );
  }
}

function ppid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function ancestry(pid: number): number[] {
  const out = [pid];
  while (out[out.length - 1] > 1 && out.length < 50) out.push(ppid(out[out.length - 1]));
  return out;
}

/** The process that owns the TCP socket 127.0.0.1:fromPort → 127.0.0.1:toPort (or the listener on toPort when fromPort is 0). */
function socketOwner(fromPort: number, toPort: number): number {
  const filter = fromPort ? `( sport = :${fromPort} and dport = :${toPort} )` : `( sport = :${toPort} )`;
  const out = execFileSync('ss', ['-Htnp', ...(fromPort ? ['state', 'established'] : ['state', 'listening']), filter], {
    encoding: 'utf8',
  });
  const m = /pid=(\d+)/.exec(out);
  if (!m) throw new Error(`no process owns 127.0.0.1:${fromPort} → ${toPort}: ${out}`);
  return Number(m[1]);
}

describe('jobs: SSH through jump hosts (ProxyJump, ProxyCommand) to real sshd on 127.0.0.1', function () {
  this.timeout(120000);
  let cluster: SlurmCluster;
  let bastionPort: number;
  let bastion2Port: number;
  let noForwardPort: number;
  let knownHosts: string;
  let sshConfig: string;
  let target: LogWatch;
  const cleanup: SlurmBackend[] = [];
  const backend = (p: Partial<SshProfile> & { host: string }) => {
    const b = new SlurmBackend({
      name: 'via-bastion',
      kind: 'slurm',
      sshConfig,
      knownHosts,
      strictHostKeyChecking: 'yes',
      jobsDir: path.join(cluster.dir, 'remote-jobs'),
      ...p,
    } as SshProfile);
    cleanup.push(b);
    return b;
  };
  const logOf = (port: number) => path.join(cluster.dir, `log/sshd_${port}.log`);

  before(async function () {
    const why = slurmPrerequisites();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    cluster = await ensureSlurmCluster();
    bastionPort = await cluster.startExtraSshd(['LogLevel DEBUG1']);
    bastion2Port = await cluster.startExtraSshd(['LogLevel DEBUG1']);
    noForwardPort = await cluster.startExtraSshd(['LogLevel DEBUG1', 'AllowTcpForwarding no']);
    target = new LogWatch(path.join(cluster.dir, 'log/sshd.log'));
    // every server has the fixture's host key; known_hosts names each by its port
    const [, type, b64] = cluster.hostKeyLine.split(' ');
    knownHosts = path.join(cluster.dir, 'known_hosts_proxy');
    writeFileSync(
      knownHosts,
      [cluster.sshPort, bastionPort, bastion2Port, noForwardPort].map((p) => `[127.0.0.1]:${p} ${type} ${b64}\n`).join(''),
    );
    sshConfig = path.join(cluster.dir, 'ssh_config_proxy');
    const hostBlock = (name: string, port: number, extra: string[] = []) =>
      [
        `Host ${name}`,
        '  HostName 127.0.0.1',
        `  Port ${port}`,
        `  User ${cluster.user}`,
        `  IdentityFile ${cluster.identityFile}`,
        ...extra,
      ].join('\n');
    writeFileSync(
      sshConfig,
      [
        hostBlock('cluster', cluster.sshPort, ['  ProxyJump bastion']),
        hostBlock('cluster-2hops', cluster.sshPort, ['  ProxyJump bastion,bastion2']),
        hostBlock('cluster-no-forward', cluster.sshPort, ['  ProxyJump noforward']),
        hostBlock('cluster-direct', cluster.sshPort),
        hostBlock('bastion', bastionPort),
        // a later hop of a list is reached with the rest of the list (ssh's -J): its own ProxyJump is not used
        hostBlock('bastion2', bastion2Port, ['  ProxyJump 10.255.255.1']),
        hostBlock('noforward', noForwardPort),
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await Promise.all(cleanup.map((b) => b.dispose()));
    await stopSlurmCluster();
  });

  it("ProxyJump from ~/.ssh/config: Slurm is reached through the bastion, as the bastion's and the login node's own logs show", async () => {
    const bastion = new LogWatch(logOf(bastionPort)).mark();
    target.mark();
    const b = backend({ host: 'cluster' });
    const info = await b.check();
    assert.match(info.version, /^slurm(-wlm)? \d+\.\d+/);
    const { id } = await b.submit({ name: 'via-bastion', env: {}, entrypoint: 'echo through the bastion' });
    assert.match(id, /^\d+$/);

    await waitFor("the bastion's log of the forwarded channel", () => bastion.forwardedTo().length > 0);
    assert.deepEqual(bastion.forwardedTo(), [cluster.sshPort], 'the bastion opened one channel, to the login node');
    assert.match(bastion.text(), new RegExp(`channel \\d+: connected to 127\\.0\\.0\\.1 port ${cluster.sshPort}`));
    const [fromPort, ...more] = target.acceptedFromPorts();
    assert.deepEqual(more, [], 'one login on the login node');
    // the login node's client socket belongs to the bastion's sshd (a child of its listener), not to this process
    const owner = socketOwner(fromPort, cluster.sshPort);
    assert.ok(
      ancestry(owner).includes(socketOwner(0, bastionPort)),
      `the socket ${fromPort} → ${cluster.sshPort} is owned by pid ${owner}, a process of the bastion's sshd`,
    );
    assert.notEqual(owner, process.pid);
    assert.deepEqual(
      b.ssh.target.jumps.map((j) => j.label),
      [`${cluster.user}@127.0.0.1:${bastionPort}`],
    );
  });

  it('the same host with the profile\'s proxyJump "none" goes directly: the bastion sees nothing, the socket is this process\'s', async () => {
    const bastion = new LogWatch(logOf(bastionPort)).mark();
    target.mark();
    const b = backend({ host: 'cluster', proxyJump: 'none' });
    await b.check();
    const [fromPort] = target.acceptedFromPorts();
    assert.equal(socketOwner(fromPort, cluster.sshPort), process.pid);
    assert.deepEqual(bastion.forwardedTo(), []);
    assert.deepEqual(b.ssh.target.jumps, []);
  });

  it("the profile's proxyJump reaches a host that ssh_config does not route (ssh's -J)", async () => {
    const bastion = new LogWatch(logOf(bastionPort)).mark();
    const b = backend({ host: 'cluster-direct', proxyJump: 'bastion' });
    await b.check();
    await waitFor("the bastion's log", () => bastion.forwardedTo().length > 0);
    assert.deepEqual(bastion.forwardedTo(), [cluster.sshPort]);
  });

  it("two hops: bastion → bastion2 → login node, each log shows its own leg; the second hop's own ProxyJump is not followed", async () => {
    const first = new LogWatch(logOf(bastionPort)).mark();
    const second = new LogWatch(logOf(bastion2Port)).mark();
    target.mark();
    const b = backend({ host: 'cluster-2hops' });
    await b.check();
    await waitFor('both bastions to log their channel', () => first.forwardedTo().length > 0 && second.forwardedTo().length > 0);
    assert.deepEqual(first.forwardedTo(), [bastion2Port]);
    assert.deepEqual(second.forwardedTo(), [cluster.sshPort]);
    const [fromPort] = target.acceptedFromPorts();
    assert.ok(
      ancestry(socketOwner(fromPort, cluster.sshPort)).includes(socketOwner(0, bastion2Port)),
      'the login node is reached from the second bastion',
    );
    const [secondFrom] = second.acceptedFromPorts();
    assert.ok(
      ancestry(socketOwner(secondFrom, bastion2Port)).includes(socketOwner(0, bastionPort)),
      'the second bastion is reached from the first',
    );
    assert.deepEqual(
      b.ssh.target.jumps.map((j) => j.alias),
      ['bastion', 'bastion2'],
    );
  });

  it('checks the host key of every hop: a wrong or unknown key at the bastion is refused, naming the hop', async () => {
    const [, type] = cluster.hostKeyLine.split(' ');
    const wrong = path.join(cluster.dir, 'known_hosts_wrong_bastion');
    const good = readFileSync(knownHosts, 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith(`[127.0.0.1]:${bastionPort} `));
    writeFileSync(
      wrong,
      [...good, `[127.0.0.1]:${bastionPort} ${type} AAAAC3NzaC1lZDI1NTE5AAAAIBx8Dpq6bEyZ3m1g1+qxLZcM2kI4nEo6y2a4xXh5bA0Z`, ''].join('\n'),
    );
    const hop = `jump host bastion (${cluster.user}@127.0.0.1:${bastionPort}), hop 1 of 1 to ${cluster.user}@127.0.0.1:${cluster.sshPort}`;
    await assert.rejects(
      backend({ host: 'cluster', knownHosts: wrong }).check(),
      (e: unknown) =>
        e instanceof JobsError &&
        e.code === 'auth' &&
        e.message.includes(`SSH to ${hop}: the host key of 127.0.0.1:${bastionPort} CHANGED`),
    );
    const unknown = path.join(cluster.dir, 'known_hosts_no_bastion');
    writeFileSync(unknown, good.join('\n'));
    await assert.rejects(
      backend({ host: 'cluster', knownHosts: unknown }).check(),
      (e: unknown) =>
        e instanceof JobsError && e.message.includes(`SSH to ${hop}: the host key of 127.0.0.1:${bastionPort} is not in ${unknown}`),
    );
    // a wrong key for the login node names the login node (reached through the bastion)
    const wrongTarget = path.join(cluster.dir, 'known_hosts_wrong_target');
    writeFileSync(
      wrongTarget,
      readFileSync(knownHosts, 'utf8').replace(
        new RegExp(`^\\[127\\.0\\.0\\.1\\]:${cluster.sshPort} .*$`, 'm'),
        `[127.0.0.1]:${cluster.sshPort} ${type} AAAAC3NzaC1lZDI1NTE5AAAAIBx8Dpq6bEyZ3m1g1+qxLZcM2kI4nEo6y2a4xXh5bA0Z`,
      ),
    );
    await assert.rejects(
      backend({ host: 'cluster', knownHosts: wrongTarget }).check(),
      (e: unknown) =>
        e instanceof JobsError &&
        e.message.includes(
          `SSH to ${cluster.user}@127.0.0.1:${cluster.sshPort} through bastion: the host key of 127.0.0.1:${cluster.sshPort} CHANGED`,
        ),
    );
    // accept-new remembers the key of every hop
    const fresh = path.join(cluster.dir, 'known_hosts_fresh_proxy');
    await backend({ host: 'cluster', knownHosts: fresh, strictHostKeyChecking: 'accept-new' }).check();
    assert.deepEqual(
      readFileSync(fresh, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]),
      [`[127.0.0.1]:${bastionPort}`, `[127.0.0.1]:${cluster.sshPort}`],
    );
  });

  it('a bastion that does not forward TCP is named, with the reason', async () => {
    await assert.rejects(
      backend({ host: 'cluster-no-forward' }).check(),
      (e: unknown) =>
        e instanceof JobsError &&
        e.code === 'rejected' &&
        e.message.includes(`jump host noforward (${cluster.user}@127.0.0.1:${noForwardPort})`) &&
        /AllowTcpForwarding/.test(e.message),
    );
  });

  it('ProxyCommand (OpenSSH as `ssh -W %h:%p bastion`) carries the connection, and ends with it', async () => {
    const bastion = new LogWatch(logOf(bastionPort)).mark();
    target.mark();
    const command = `ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${knownHosts} -i ${cluster.identityFile} -p ${bastionPort} -l %r -W %h:%p 127.0.0.1`;
    const cfg = path.join(cluster.dir, 'ssh_config_proxycommand');
    writeFileSync(
      cfg,
      [
        `Host pc-cluster`,
        '  HostName 127.0.0.1',
        `  Port ${cluster.sshPort}`,
        `  User ${cluster.user}`,
        `  IdentityFile ${cluster.identityFile}`,
        `  ProxyCommand ${command}`,
        '',
      ].join('\n'),
    );
    const b = backend({ host: 'pc-cluster', sshConfig: cfg });
    await b.check();
    await waitFor("the bastion's log", () => bastion.forwardedTo().length > 0);
    assert.deepEqual(bastion.forwardedTo(), [cluster.sshPort]);
    const [fromPort] = target.acceptedFromPorts();
    assert.ok(ancestry(socketOwner(fromPort, cluster.sshPort)).includes(socketOwner(0, bastionPort)));
    assert.equal(b.ssh.target.proxyCommand, command.replace('%r', cluster.user).replace('%h:%p', `127.0.0.1:${cluster.sshPort}`));
    const proxies = () =>
      execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.includes(`-p ${bastionPort} -l ${cluster.user} -W`) && !l.includes(' sh -c'));
    assert.equal(proxies().length, 1, 'one ProxyCommand runs');
    await b.dispose();
    await waitFor('the ProxyCommand to end with the connection', () => proxies().length === 0);

    // a ProxyCommand that fails says how, with its stderr
    writeFileSync(
      cfg,
      [
        'Host pc-fail',
        '  HostName 127.0.0.1',
        `  Port ${cluster.sshPort}`,
        `  IdentityFile ${cluster.identityFile}`,
        "  ProxyCommand sh -c 'echo no route to %h >&2; exit 7'",
        '',
      ].join('\n'),
    );
    await assert.rejects(
      backend({ host: 'pc-fail', sshConfig: cfg }).check(),
      (e: unknown) =>
        e instanceof JobsError &&
        e.code === 'connection' &&
        /ProxyCommand "sh -c 'echo no route to 127\.0\.0\.1 >&2; exit 7'" exited with code 7: no route to 127\.0\.0\.1/.test(e.message),
    );
  });
});
