/**
 * Host key checking against an OpenSSH known_hosts file (plain and hashed `|1|salt|hash` names,
 * `[host]:port` for ports other than 22), with ssh's StrictHostKeyChecking choices: `yes`
 * refuses unknown hosts, `accept-new` remembers the first key (trust on first use), `no` accepts
 * an unknown key without remembering it. A changed key is always refused, whatever the mode.
 */
import { createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

export type HostKeyVerdict = 'known' | 'unknown' | 'changed';

export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function nameMatches(field: string, name: string): boolean {
  for (const entry of field.split(',')) {
    if (entry.startsWith('|1|')) {
      const [, , salt, hash] = entry.split('|');
      if (salt && hash && createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash) return true;
    } else if (entry.toLowerCase() === name.toLowerCase()) return true;
  }
  return false;
}

/** Compares the server's key blob with the lines for `name` in `text`. */
export function checkHostKey(text: string, name: string, keyBlob: Buffer): HostKeyVerdict {
  let sawName = false;
  const b64 = keyBlob.toString('base64');
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    if (parts[0].startsWith('@')) continue; // @cert-authority / @revoked: not handled
    if (parts.length < 3 || !nameMatches(parts[0], name)) continue;
    sawName = true;
    if (parts[2] === b64) return 'known';
  }
  return sawName ? 'changed' : 'unknown';
}

/** The key type name inside an SSH public key blob (e.g. ssh-ed25519). */
export function keyType(keyBlob: Buffer): string {
  const n = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + n).toString('ascii');
}

export interface HostKeyPolicy {
  file: string;
  mode: 'yes' | 'accept-new' | 'no';
}

/** The verdict for this connection; with accept-new, an unknown key is appended to the file. */
export function verifyHostKey(
  policy: HostKeyPolicy,
  host: string,
  port: number,
  keyBlob: Buffer,
): { ok: boolean; verdict: HostKeyVerdict } {
  const name = knownHostsName(host, port);
  const text = existsSync(policy.file) ? readFileSync(policy.file, 'utf8') : '';
  const verdict = checkHostKey(text, name, keyBlob);
  if (verdict === 'known') return { ok: true, verdict };
  if (verdict === 'changed') return { ok: false, verdict };
  if (policy.mode === 'yes') return { ok: false, verdict };
  if (policy.mode === 'no') return { ok: true, verdict };
  mkdirSync(path.dirname(policy.file), { recursive: true, mode: 0o700 });
  appendFileSync(policy.file, `${text && !text.endsWith('\n') ? '\n' : ''}${name} ${keyType(keyBlob)} ${keyBlob.toString('base64')}\n`, {
    mode: 0o600,
  });
  return { ok: true, verdict };
}
