/**
 * The kernel's fast paths: speed that replaces private parts of ipykernel, jupyter_client and
 * pyzmq (prelude/fastpaths.py) or of `ws` (remote/server.ts, frames.ts). Each is used only with
 * the versions it was tested with and after its self-check; elsewhere, or when turned off here,
 * the plain path runs. The prelude reports which paths are on and why each other one is off.
 */

/** `0` (or `false`, `off`) turns every fast path off, whatever the options say (CI runs the kernel suite so) */
export const FAST_PATHS_ENV = 'CODEDANCE_KERNEL_FAST_PATHS';

/** What the prelude (and the remote client, for `ws`) found: the paths on, and why each other one is off. */
export interface FastPathReport {
  /** the installed versions of the packages whose private parts the paths replace (null: unknown) */
  versions: Record<string, string | null>;
  on: string[];
  /** path -> why it is off */
  off: Record<string, string>;
  /** tests only: the versions that stood in for the installed ones */
  standIn?: Record<string, string>;
}

/** Whether fast paths may be used: the option (default true) and the environment switch both allow them. */
export function fastPathsWanted(option?: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env[FAST_PATHS_ENV] ?? '').trim().toLowerCase();
  return option !== false && !['0', 'false', 'off', 'no'].includes(v);
}

/** the line the prelude loader prints the report on (incarnation.ts preludeLoader) */
export const FAST_PATHS_MARKER = 'codedance-fast-paths: ';

/** The report in the prelude loader's stdout, if any. */
export function readFastPathReport(stdout: string): FastPathReport | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(FAST_PATHS_MARKER));
  if (!line) return undefined;
  try {
    const r = JSON.parse(line.slice(FAST_PATHS_MARKER.length)) as Partial<FastPathReport>;
    if (!Array.isArray(r.on) || typeof r.off !== 'object' || r.off === null) return undefined;
    return { versions: r.versions ?? {}, on: r.on, off: r.off, ...(r.standIn ? { standIn: r.standIn } : {}) };
  } catch {
    return undefined;
  }
}

/** The report with one more path (the remote client's own, for `ws`). */
export function withPath(r: FastPathReport, name: string, version: [string, string] | undefined, why: string | undefined): FastPathReport {
  const versions = version ? { ...r.versions, [version[0]]: version[1] } : r.versions;
  return why === undefined ? { ...r, versions, on: [...r.on, name] } : { ...r, versions, off: { ...r.off, [name]: why } };
}

/**
 * One line for the kernel log, e.g. "fast paths on: direct_execute, …; off: busy — not asked
 * for [ipykernel 6.17.0, …]". Paths off for the same reason are said together.
 */
export function describeFastPaths(r: FastPathReport): string {
  const byWhy = new Map<string, string[]>();
  for (const [name, why] of Object.entries(r.off)) byWhy.set(why, [...(byWhy.get(why) ?? []), name]);
  const off = [...byWhy].map(([why, names]) => `${names.join(', ')} — ${why}`).join('; ');
  const versions = Object.entries(r.versions).map(([p, v]) => `${p} ${v ?? 'unknown'}`);
  if (r.standIn)
    versions.push(
      `standing in for tests: ${Object.entries(r.standIn)
        .map(([p, v]) => `${p} ${v}`)
        .join(', ')}`,
    );
  const parts = [`on: ${r.on.length ? r.on.join(', ') : 'none'}`, ...(off ? [`off: ${off}`] : [])];
  return `fast paths ${parts.join('; ')}${versions.length ? ` [${versions.join(', ')}]` : ''}`;
}
