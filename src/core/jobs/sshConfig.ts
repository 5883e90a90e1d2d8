/**
 * The ssh_config(5) keywords a cluster connection needs — HostName, User, Port, IdentityFile,
 * ProxyJump, ProxyCommand — read from `~/.ssh/config`-style text, with `Host` patterns (`*`, `?`,
 * `!neg`) and first value wins, as ssh does. ProxyJump and ProxyCommand compete: whichever comes
 * first for a host wins, and `none` switches both off. Other keywords (and `Match` blocks) are
 * ignored. How a route through the jump hosts is built from this: sshRoute.ts.
 */
import * as os from 'node:os';
import * as path from 'node:path';

/** One hop of a ProxyJump list: `[user@]host[:port]` or `ssh://[user@]host[:port]`. */
export interface JumpSpec {
  user?: string;
  host: string;
  port?: number;
}

/** How ssh reaches a host: directly (`none`), through jump hosts, or over a command's stdin/stdout. */
export type SshProxy = { kind: 'none' } | { kind: 'jump'; hops: JumpSpec[] } | { kind: 'command'; command: string };

export interface SshHostConfig {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  /** the first ProxyJump or ProxyCommand that applies (the command is kept unexpanded: %h, %p, %r, %n are filled in per hop) */
  proxy?: SshProxy;
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
}

function hostMatches(patterns: string[], host: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (globToRegExp(p.slice(1)).test(host)) return false;
    } else if (globToRegExp(p).test(host)) matched = true;
  }
  return matched;
}

export function expandHome(p: string, home = os.homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

/** Thrown (as a plain Error; callers add the file or profile) when a ProxyJump value cannot be read. */
function badJump(value: string, why: string): Error {
  return new Error(`invalid ProxyJump "${value}": ${why} (expected [user@]host[:port], comma-separated, or none)`);
}

function parseJumpHop(raw: string, whole: string): JumpSpec {
  let s = raw.startsWith('ssh://') ? raw.slice('ssh://'.length) : raw;
  if (!s) throw badJump(whole, 'an empty hop');
  if (/\s/.test(s)) throw badJump(whole, 'a hop with a space in it');
  let user: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    user = s.slice(0, at) || undefined;
    s = s.slice(at + 1);
  }
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw badJump(whole, `an unclosed [ in "${raw}"`);
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest && !rest.startsWith(':')) throw badJump(whole, `"${rest}" after ] in "${raw}"`);
    portText = rest.slice(1);
  } else {
    const colon = s.indexOf(':');
    host = colon < 0 ? s : s.slice(0, colon);
    portText = colon < 0 ? undefined : s.slice(colon + 1);
  }
  if (!host) throw badJump(whole, `no host in "${raw}"`);
  let port: number | undefined;
  if (portText) {
    port = /^\d+$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) throw badJump(whole, `port "${portText}" is not 1-65535`);
  }
  return { ...(user ? { user } : {}), host, ...(port ? { port } : {}) };
}

/**
 * A ProxyJump value as ssh reads it: `none`, or hops separated by commas (no spaces), dialled in
 * the order written. Throws an Error naming the value and what is wrong with it.
 */
export function parseProxyJump(value: string): SshProxy {
  const v = value.trim();
  if (v.toLowerCase() === 'none') return { kind: 'none' };
  return { kind: 'jump', hops: v.split(',').map((h) => parseJumpHop(h, v)) };
}

/** The settings ssh would use for `host`, from the text of an ssh_config file. */
export function parseSshConfig(text: string, host: string): SshHostConfig {
  const out: SshHostConfig = { identityFiles: [] };
  let active = true; // lines before the first Host apply to every host
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.+)$/.exec(line);
    if (!m) continue;
    const key = m[1].toLowerCase();
    const value = m[2].trim().replace(/^"(.*)"$/, '$1');
    if (key === 'host') {
      active = hostMatches(value.split(/\s+/), host);
      continue;
    }
    if (key === 'match') {
      active = false; // Match blocks are not evaluated
      continue;
    }
    if (active) applySshOption(out, key, value, m[2].trim(), host);
  }
  return out;
}

/** One option of a block that applies to the host: the first value of each wins, as in ssh (IdentityFile adds up). */
function applySshOption(out: SshHostConfig, key: string, value: string, asWritten: string, host: string): void {
  const expanded = value.replace(/%h/g, host).replace(/%u/g, os.userInfo().username).replace(/%d/g, os.homedir()).replace(/%%/g, '%');
  switch (key) {
    case 'hostname':
      out.hostName ??= expanded;
      break;
    case 'user':
      out.user ??= value;
      break;
    case 'port':
      out.port ??= parseInt(value, 10) || undefined;
      break;
    case 'identityfile':
      out.identityFiles.push(expandHome(expanded));
      break;
    case 'proxyjump':
      out.proxy ??= parseProxyJump(value);
      break;
    case 'proxycommand':
      // the rest of the line as written: quotes belong to the command's own shell syntax
      out.proxy ??= asWritten.toLowerCase() === 'none' ? { kind: 'none' } : { kind: 'command', command: asWritten };
      break;
  }
}
