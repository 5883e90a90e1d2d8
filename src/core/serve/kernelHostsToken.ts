/**
 * The token of a kernel-hosts job's Jupyter Servers: HMAC-SHA256 of the job's nonce (in its
 * script and metadata: not secret) under a key kept on this machine. Any CodeDance of this user
 * here can reach a job another one started (`codedance kernels start`, then `codedance eval
 * --kernel-hosts cluster:NAME`), and the token itself is never written anywhere: not in the
 * script, a log, a job record or a file here. The key: `CODEDANCE_KERNEL_HOSTS_KEY` (hex), else
 * `~/.codedance/kernel-hosts.key` (32 random bytes, hex, mode 0600, made on first use); the editor
 * passes its own from SecretStorage.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processSecrets } from '../secrets';
import { JobsError } from '../jobs/errors';

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

export function kernelHostsToken(key: string, nonce: string): string {
  const token = createHmac('sha256', Buffer.from(key, 'hex')).update(`codedance-kernel-hosts:${nonce}`).digest('hex');
  processSecrets.add(token);
  return token;
}

const KEY = /^[a-f0-9]{32,128}$/;

/** The key: from the environment, else the key file (made here on first use). */
export function kernelHostsKey(env: Record<string, string | undefined> = process.env, home = os.homedir()): string {
  const fromEnv = env.CODEDANCE_KERNEL_HOSTS_KEY?.trim().toLowerCase();
  if (fromEnv) {
    if (!KEY.test(fromEnv))
      throw new JobsError('config', 'CODEDANCE_KERNEL_HOSTS_KEY must be 32-128 hex digits (e.g. the output of `openssl rand -hex 32`)');
    return fromEnv;
  }
  const file = path.join(home, '.codedance', 'kernel-hosts.key');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      // another process made it meanwhile: its key is read below
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  if (process.platform !== 'win32' && statSync(file).mode & 0o077) chmodSync(file, 0o600);
  const key = readFileSync(file, 'utf8').trim().toLowerCase();
  if (!KEY.test(key)) throw new JobsError('config', `${file} does not hold a key (32-128 hex digits): remove it and a new one is made`);
  return key;
}
