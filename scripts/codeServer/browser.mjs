// A headless chromium (Debian's) driven by playwright-core, for the e2e tests and the benches.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SetupError } from './common.mjs';

export const CHROMIUM_PATH = process.env.CODEDANCE_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * A headless chromium (Debian's) as a playwright persistent context. Close it with
 * context.close(); the first page is context.pages()[0]. Without userDataDir a temp profile is
 * used and removed on close.
 */
export async function launchBrowser({ userDataDir, viewport = { width: 1400, height: 900 } } = {}) {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new SetupError(`chromium not found at ${CHROMIUM_PATH}.`, '`apt-get install chromium` or set CODEDANCE_CHROMIUM.');
  }
  const { chromium } = await import('playwright-core');
  const ownDir = !userDataDir;
  userDataDir = userDataDir || (await fs.mkdtemp(path.join(os.tmpdir(), 'codedance-chromium-')));
  await fs.mkdir(userDataDir, { recursive: true });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  if (ownDir) context.once('close', () => fs.rm(userDataDir, { recursive: true, force: true }).catch(() => {}));
  return context;
}
