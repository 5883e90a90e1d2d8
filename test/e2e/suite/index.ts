/**
 * The in-host mocha suite: VS Code's `extensionTestsPath` contract (a module whose `run()` returns a
 * Promise). The extension host loads the bundle out/e2e-suite/index.js (built by
 * test/e2e/hostSuite.ts with esbuild; `vscode` and `mocha` stay external and are required at run
 * time, mocha from the repo's node_modules).
 *
 * Each result is printed as one machine-readable line through the host's console, which VS Code
 * forwards to the workbench (and from there to the node side via codeAutomationLog):
 *   CODEDANCE_E2E_TEST {"state":"passed","title":"...","ms":12}
 *   CODEDANCE_E2E_INFO {...}                      (measurements)
 *   CODEDANCE_E2E_RESULT {"passed":N,"failed":M}  (last line)
 */
import Mocha from 'mocha';
import { emit } from './util';

class HostReporter {
  constructor(runner: Mocha.Runner) {
    const counts = { passed: 0, failed: 0, pending: 0 };
    runner.on('pass', (test) => {
      counts.passed++;
      emit('CODEDANCE_E2E_TEST', { state: 'passed', title: test.fullTitle(), ms: test.duration });
    });
    runner.on('fail', (test, err: Error) => {
      counts.failed++;
      emit('CODEDANCE_E2E_TEST', { state: 'failed', title: test.fullTitle(), ms: test.duration, error: String(err?.stack ?? err) });
    });
    runner.on('pending', (test) => {
      counts.pending++;
      emit('CODEDANCE_E2E_TEST', { state: 'pending', title: test.fullTitle() });
    });
    runner.once('end', () => emit('CODEDANCE_E2E_RESULT', counts));
  }
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 20_000, color: false, reporter: HostReporter as unknown as typeof Mocha.reporters.Base });
  // The test modules are bundled into this file; define describe/it before they evaluate.
  mocha.suite.emit('pre-require', globalThis, 'codedance-e2e-suite', mocha);
  require('./extension.vscode.test');
  require('./commands.vscode.test');
  require('./jobs.vscode.test');
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} in-host test(s) failed`)) : resolve()));
  });
}
