/**
 * Node side of the in-host suite: loads the workbench with `extensionTestsPath` in the payload and
 * collects what the extension host reports through window.codeAutomationLog / codeAutomationExit
 * (the same hooks VS Code's smoke-test driver uses).
 */
import type { BrowserContext } from 'playwright-core';

export interface HostTest {
  state: 'passed' | 'failed' | 'pending';
  title: string;
  ms?: number;
  error?: string;
}

export interface HostRun {
  exitCode: number;
  tests: HostTest[];
  result?: { passed: number; failed: number; pending?: number };
  info: Record<string, unknown>;
  /** Every workbench log line, for the artifacts folder. */
  log: string[];
  seconds: number;
}

const MARKER = /^(CODEDANCE_E2E_(?:TEST|INFO|RESULT)) (\{.*\})\s*$/;

export async function runHostSuite(context: BrowserContext, url: string, timeoutMs = 90_000): Promise<HostRun> {
  const t0 = performance.now();
  const page = await context.newPage();
  const run: HostRun = { exitCode: -1, tests: [], info: {}, log: [], seconds: 0 };
  let onExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (onExit = resolve));

  await page.exposeFunction('codeAutomationLog', (level: string, message: unknown) => {
    const lines = (Array.isArray(message) ? message : [message]).map(String);
    for (const line of lines) {
      run.log.push(`[${level}] ${line}`);
      const m = MARKER.exec(line);
      if (!m) continue;
      const data = JSON.parse(m[2]!);
      if (m[1] === 'CODEDANCE_E2E_TEST') run.tests.push(data);
      else if (m[1] === 'CODEDANCE_E2E_INFO') Object.assign(run.info, data);
      else run.result = data;
    }
  });
  await page.exposeFunction('codeAutomationExit', (code: number) => onExit(code));

  let timer: NodeJS.Timeout | undefined;
  try {
    await page.goto(url);
    run.exitCode = await Promise.race([
      exited,
      new Promise<number>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `the in-host suite did not finish within ${timeoutMs / 1000} s (no codeAutomationExit); ` +
                  `last log lines:\n${run.log.slice(-15).join('\n')}`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    run.seconds = (performance.now() - t0) / 1000;
    await page.close().catch(() => {});
  }
  return run;
}
