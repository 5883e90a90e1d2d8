// Shared pieces of the code-server harness (scripts/codeServer.mjs): where the install lives, the
// setup error that names its fix, a cross-process lock, and small process and file helpers.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const CODE_SERVER_VERSION = '4.100.3';

export const defaultLog = (msg) => console.log(`[code-server] ${msg}`);

export function cacheRoot() {
  return process.env.CODEDANCE_CACHE || path.join(os.homedir(), '.cache', 'codedance');
}

/** The install folder: a private npm project whose node_modules holds code-server. */
export function installDir() {
  return path.join(cacheRoot(), `code-server-${CODE_SERVER_VERSION}`);
}

/** The code-server package folder (holds out/node/entry.js) inside installDir(). */
export function packageDir(dir = installDir()) {
  return path.join(dir, 'node_modules', 'code-server');
}

export class SetupError extends Error {
  constructor(cause, fix) {
    super(`${cause}\n  Fix: ${fix}`);
    this.name = 'CodeServerSetupError';
  }
}

/** A cross-process lock (mkdir is atomic); a lock left by a dead process is taken over. */
export async function lock(lockDir, log) {
  const deadline = Date.now() + 15 * 60_000;
  for (let warned = false; ;) {
    try {
      await fs.mkdir(lockDir);
      await fs.writeFile(path.join(lockDir, 'pid'), String(process.pid));
      return () => fs.rm(lockDir, { recursive: true, force: true });
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    const owner = Number(await fs.readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => '0'));
    if (owner && !isAlive(owner)) {
      await fs.rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new SetupError(`timed out waiting for ${lockDir} (held by pid ${owner}).`, `delete ${lockDir} if no install is running.`);
    }
    if (!warned) log(`waiting for another install (pid ${owner}) to finish`);
    warned = true;
    await sleep(1000);
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

export function run(cmd, args, { cwd, env = process.env, onLine } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const feed = (chunk) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const line of lines) onLine?.(line);
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    child.once('error', (err) => reject(new SetupError(`cannot run \`${cmd}\`: ${err.message}.`, `install ${cmd} / check PATH.`)));
    child.once('close', (code) => {
      if (buf) onLine?.(buf);
      resolve(code);
    });
  });
}

export async function writeJson(file, value) {
  await fs.writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
}

export async function readTail(file, lines = 30) {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n').trim();
}

export const indent = (text) =>
  text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
export const seconds = (t0) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
