/** The kernel's environment: an allow-list of host variables, never process.env minus some names. */

const ALLOWED_NAMES = new Set([
  'PATH',
  'LANG',
  'LANGUAGE',
  'TZ',
  'PYTHONPATH',
  'PYTHONHOME',
  'LD_LIBRARY_PATH',
  'VIRTUAL_ENV',
  'CONDA_PREFIX',
  'CUDA_VISIBLE_DEVICES',
  'OMP_NUM_THREADS',
  'MKL_NUM_THREADS',
  'OPENBLAS_NUM_THREADS',
  'TMPDIR',
  'SYSTEMROOT', // Windows: Python cannot start without it
  'WINDIR',
  'COMSPEC',
  'PATHEXT',
  'APPDATA',
  'LOCALAPPDATA',
  'TEMP',
  'TMP',
]);

/** the allow-list's names (a kernel-hosts job's launcher applies the same list on the cluster) */
export const KERNEL_ENV_NAMES: ReadonlySet<string> = ALLOWED_NAMES;

/** The kernel's environment: allow-listed host variables, `passEnv` names, then the caller's explicit ones. */
export function kernelEnvironment(
  hostEnv: Record<string, string | undefined>,
  opts: { passEnv?: string[]; explicit?: Record<string, string | undefined>; home?: string },
): Record<string, string> {
  const out: Record<string, string> = {};
  const extra = new Set(opts.passEnv ?? []);
  for (const [k, v] of Object.entries(hostEnv)) {
    if (v === undefined) continue;
    if (ALLOWED_NAMES.has(k.toUpperCase()) || k.startsWith('LC_') || extra.has(k)) out[k] = v;
  }
  const home = opts.home ?? hostEnv.HOME ?? hostEnv.USERPROFILE;
  if (home) out[process.platform === 'win32' ? 'USERPROFILE' : 'HOME'] = home;
  for (const [k, v] of Object.entries(opts.explicit ?? {})) if (v !== undefined) out[k] = v;
  return out;
}
