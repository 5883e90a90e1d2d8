/**
 * The sandbox's filesystem view for bwrap (sandbox.ts): namespaces, a read-only root, the hidden
 * folders on empty tmpfs, the interpreter's folders bound back read-only, and the binds of the
 * session's folders with their parents made searchable.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { gpuDevices, isRealDir, NAMESPACES, safeRealpath } from './sandboxHost';

/** hidden behind empty tmpfs (a kernel-hosts job's launcher hides the same on the cluster) */
export const HIDDEN_FOLDERS = ['/home', '/root', '/tmp', '/var/tmp', '/run', '/var/run', '/mnt', '/media'];

const under = (p: string, root: string) => p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);

/** the folders among `dirs` that sit under a hidden root, minus those inside another one of them */
function bindBack(dirs: string[], hidden: string[]): string[] {
  const found = new Set<string>();
  for (const d of dirs) {
    if (!path.isAbsolute(d) || !existsSync(d)) continue;
    for (const p of new Set([d, safeRealpath(d)])) if (hidden.some((h) => under(p, h))) found.add(p);
  }
  const sorted = [...found].sort((a, b) => a.length - b.length);
  return sorted.filter((d, i) => !sorted.slice(0, i).some((p) => under(d, p)));
}

/** namespaces and the filesystem view: read-only root, hidden folders, the interpreter's bound back */
export function mountArgs(
  hostEnv: Record<string, string | undefined>,
  network: boolean,
  pythonDirs: string[],
): { args: string[]; hidden: string[]; made: Set<string> } {
  const realHome = hostEnv.HOME && path.isAbsolute(hostEnv.HOME) ? hostEnv.HOME : undefined;
  const hidden = HIDDEN_FOLDERS.filter((d) => isRealDir(d));
  if (realHome && !hidden.some((h) => under(realHome, h)) && realHome !== '/') hidden.push(realHome);
  const a: string[] = [...NAMESPACES];
  if (!network) a.push('--unshare-net');
  a.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc');
  for (const d of gpuDevices()) a.push('--dev-bind-try', d, d);
  for (const h of hidden) a.push('--tmpfs', h);
  if (network) {
    // name resolution: /etc/resolv.conf often points into /run (systemd-resolved)
    const resolv = safeRealpath('/etc/resolv.conf');
    if (resolv !== '/etc/resolv.conf' && hidden.some((h) => under(resolv, h)))
      a.push('--ro-bind-try', path.dirname(resolv), path.dirname(resolv));
  }
  const made = new Set(hidden);
  for (const d of bindBack(
    pythonDirs.filter((x) => x && path.isAbsolute(x)),
    hidden,
  ))
    bindWithParents(a, made, d, '--ro-bind');
  return { args: a, hidden, made };
}

/** binds `d`; the folders above it on a hidden tmpfs are made searchable by anyone (bwrap would make them 0700) */
export function bindWithParents(a: string[], made: Set<string>, d: string, how: '--bind' | '--ro-bind'): void {
  const parents: string[] = [];
  if ([...made].some((h) => under(d, h)))
    for (let p = path.dirname(d); !made.has(p) && p !== path.dirname(p); p = path.dirname(p)) parents.unshift(p);
  for (const p of parents) {
    a.push('--perms', '0755', '--dir', p);
    made.add(p);
  }
  a.push(how, d, d);
}

/** every folder above `d` that keeps its host permissions (not on a hidden tmpfs) lets others search it */
export function searchableByOthers(d: string, hidden: string[]): boolean {
  for (let p = path.dirname(d); p !== path.dirname(p); p = path.dirname(p)) {
    if (hidden.some((h) => under(p, h))) continue;
    try {
      if (!(statSync(p).mode & 0o001)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** bwrap run by root keeps root's capabilities inside unless told otherwise */
export function capArgs(asNobody: boolean): string[] {
  if (process.getuid?.() !== 0) return [];
  const keep = asNobody ? ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_DAC_READ_SEARCH'] : [];
  return ['--cap-drop', 'ALL', ...keep.flatMap((c) => ['--cap-add', c])];
}
