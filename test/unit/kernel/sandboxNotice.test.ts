/**
 * Where Python cells run, said truthfully (sandboxNotice.ts): a remote kernel is "unsandboxed:
 * remote kernel"; without the sandbox the notice says that code can read the parent's
 * environment through /proc/<ppid>/environ, and does not present the kernel's allow-list as
 * protection; the CLI's `sandbox:` line follows the same host.
 */
import { strict as assert } from 'node:assert';
import { sandboxStatus } from '../../../src/core/kernel/sandbox';
import {
  type CellHost,
  describeSandbox,
  isSandboxed,
  localCellHost,
  remoteCellHost,
  sandboxLabel,
} from '../../../src/core/kernel/sandboxNotice';
import { cellHostOf, sandboxFromFlags } from '../../../src/cli/sandbox';

/** what `fn` writes to stderr */
function stderrOf(fn: () => void): string {
  const write = process.stderr.write;
  let out = '';
  process.stderr.write = ((s: string) => ((out += s), true)) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return out;
}

/** runs `fn` with bwrap out of reach (the probe is redone before and after) */
function withoutBwrap(fn: () => void): void {
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    sandboxStatus(true);
    fn();
  } finally {
    process.env.PATH = path;
    sandboxStatus(true);
  }
}

describe('sandbox notice: where cells run, said truthfully', () => {
  it('a remote kernel: "unsandboxed: remote kernel", the server without credentials, not containable', () => {
    const host = remoteCellHost('http://alice:pw-123456@10.0.0.5:8888/?token=tok-abcdef');
    assert.deepEqual(host, { kind: 'remote', server: 'http://10.0.0.5:8888/' });
    assert.equal(sandboxLabel(host), 'unsandboxed: remote kernel');
    assert.equal(isSandboxed(host), false);
    const n = describeSandbox(host);
    assert.match(n, /^Python cells run unsandboxed: remote kernel on the Jupyter server at http:\/\/10\.0\.0\.5:8888\/\./);
    assert.match(n, /as whatever user the server runs as/);
    assert.match(n, /CodeDance cannot contain it/);
    assert.doesNotMatch(n, /bubblewrap|pw-123456|tok-abcdef/);
  });

  it('sandbox turned off: says the code can read the parent environment through /proc/<ppid>/environ and your files; no allow-list as protection', () => {
    const host = localCellHost('off');
    assert.equal(sandboxLabel(host), 'unsandboxed: sandbox off');
    const n = describeSandbox(host);
    assert.match(n, /^Python cells run UNSANDBOXED \(sandbox turned off\): /);
    assert.match(n, /every secret in the environment of the process that started it/);
    assert.match(n, /\/proc\/<ppid>\/environ/);
    assert.match(n, /read your files/);
    assert.doesNotMatch(n, /allow-list/);
  });

  it('sandbox unavailable: the same reach, the reason and the fix; "on" says no cell runs', function () {
    if (process.platform !== 'linux') this.skip();
    withoutBwrap(() => {
      const n = describeSandbox();
      assert.match(n, /^Python cells run UNSANDBOXED: bubblewrap \(bwrap\) is not installed\. Code runs as you/);
      assert.match(n, /\/proc\/<ppid>\/environ/);
      assert.match(n, /To sandbox: install it: sudo apt-get install bubblewrap/);
      assert.doesNotMatch(n, /allow-list/);
      assert.equal(sandboxLabel(localCellHost('auto')), 'unsandboxed: sandbox unavailable');
      const on = localCellHost('on');
      assert.equal(sandboxLabel(on), 'no cells run: sandbox unavailable');
      assert.match(describeSandbox(on), /^Python cells will not run: the sandbox is required but unavailable/);
    });
  });

  it('sandboxed: bubblewrap, network said either way', function () {
    if (!sandboxStatus().available) this.skip();
    const host = localCellHost('auto');
    assert.equal(isSandboxed(host), true);
    assert.equal(sandboxLabel(host), 'sandboxed');
    assert.match(describeSandbox(host), /^Python cells run in a bubblewrap sandbox \(.*no user namespaces, no network\)\. Limits: .*\.$/);
    const net = localCellHost('auto', true);
    assert.equal(sandboxLabel(net), 'sandboxed, network on');
    assert.match(describeSandbox(net), /network ON/);
  });

  it("a notebook's kernel is unsandboxed too", () => {
    const host: CellHost = { kind: 'notebook', notebook: 'analysis.ipynb' };
    assert.equal(sandboxLabel(host), 'unsandboxed: notebook kernel');
    assert.match(describeSandbox(host), /^Python cells run unsandboxed: notebook kernel \(analysis\.ipynb\).*\/proc\/<ppid>\/environ/);
  });

  it('the CLI line: --jupyter-url says remote kernel whatever the sandbox flags; --no-sandbox says /proc environ', () => {
    const remote = stderrOf(() => sandboxFromFlags({ 'no-sandbox': false }, false, 'http://127.0.0.1:8888/?token=t0k3n-xyz'));
    assert.match(remote, /^sandbox: Python cells run unsandboxed: remote kernel on the Jupyter server at http:\/\/127\.0\.0\.1:8888\/\./);
    assert.doesNotMatch(remote, /t0k3n-xyz|bubblewrap sandbox/);
    const off = stderrOf(() => sandboxFromFlags({ 'no-sandbox': true }, false));
    assert.match(off, /^sandbox: Python cells run UNSANDBOXED \(sandbox turned off\): .*\/proc\/<ppid>\/environ/);
    assert.equal(
      stderrOf(() => sandboxFromFlags({}, true, 'http://h:1/')),
      '',
      'quiet',
    );
    assert.deepEqual(cellHostOf({ sandbox: 'auto', network: false, passEnv: [] }, 'http://h:1/'), {
      kind: 'remote',
      server: 'http://h:1/',
    });
  });
});
