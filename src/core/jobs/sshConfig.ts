/**
 * The few ssh_config(5) keywords a cluster profile needs — HostName, User, Port, IdentityFile —
 * read from `~/.ssh/config`-style text, with `Host` patterns (`*`, `?`, `!neg`) and first value
 * wins, as ssh does. Other keywords are ignored (ProxyJump is not supported: use a tunnel).
 */
import * as os from 'node:os';
import * as path from 'node:path';

export interface SshHostConfig {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  proxyJump?: string;
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
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
    if (!active) continue;
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
        out.proxyJump ??= value;
        break;
    }
  }
  return out;
}
