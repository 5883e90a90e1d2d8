import * as assert from 'node:assert/strict';
import { startProxyCommand } from '../../../src/core/jobs/sshProxyCommand';

describe('jobs: the ProxyCommand’s failure', () => {
  it('includes what it wrote to stderr after its exit was seen (the exit event can come first)', async () => {
    // the command exits at once; a process it left behind writes to the same stderr 200 ms later
    const p = startProxyCommand(`sh -c '(sleep 0.2; echo no route to bastion >&2) & exit 7'`);
    const why = await p.failure();
    p.stop();
    assert.match(why ?? '', /exited with code 7: no route to bastion$/);
  });

  it('a command that cannot start says so', async () => {
    const p = startProxyCommand('/nonexistent/proxy-command-xyz');
    const why = await p.failure();
    p.stop();
    assert.match(why ?? '', /exited with code 127: .*nonexistent/);
  });
});
