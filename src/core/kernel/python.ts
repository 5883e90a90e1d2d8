/**
 * Which Python runs the kernel. Order:
 *   1. `explicit` (the codedance.python.interpreter setting or --python), else the
 *      CODEDANCE_PYTHON environment variable — used or rejected, never silently replaced;
 *   2. the Python extension's active interpreter (the caller passes its path), if usable;
 *   3. the first of `candidates` (default: `python3` on PATH, then `/usr/bin/python3`) that can
 *      import ipykernel, PIL, numpy and matplotlib.
 * Each interpreter is probed once per process (cached by the command string).
 */
import { execFile } from 'node:child_process';
import { type InterpreterProbe, PythonEnvironmentError } from './errors';

/** import names the kernel needs, and how to install each */
export const REQUIRED_MODULES = ['ipykernel', 'PIL', 'numpy', 'matplotlib'] as const;
const PIP_NAMES: Record<string, string> = { ipykernel: 'ipykernel', PIL: 'pillow', numpy: 'numpy', matplotlib: 'matplotlib' };
const APT_NAMES: Record<string, string> = {
  ipykernel: 'python3-ipykernel',
  PIL: 'python3-pil',
  numpy: 'python3-numpy',
  matplotlib: 'python3-matplotlib',
};

export const DEFAULT_CANDIDATES = ['python3', '/usr/bin/python3'];

export interface ResolvePythonOptions {
  /** the setting / CLI flag; when set it is the only interpreter considered */
  explicit?: string;
  /** environment to read CODEDANCE_PYTHON from (default process.env); pass {} to ignore it */
  env?: Record<string, string | undefined>;
  /** the Python extension's active interpreter path, if the caller has one */
  pythonExtension?: string;
  /** fallbacks, in order (default `python3`, `/usr/bin/python3`) */
  candidates?: string[];
  /** per-probe time limit, ms (default 20000) */
  probeTimeoutMs?: number;
}

export interface ResolvedPython {
  /** the interpreter to launch: sys.executable of the chosen candidate */
  python: string;
  /** the command as it was given (`python3`, a setting's value) */
  command: string;
  /** where it came from */
  source: InterpreterProbe['origin'];
  /** one line for logs and the UI: which one and why */
  reason: string;
  /** `3.11.2` */
  version: string;
  /** every interpreter probed, in order, the chosen one last */
  tried: InterpreterProbe[];
}

const PROBE_SCRIPT = [
  'import importlib.util, json, os, sys, sysconfig',
  `mods = ${JSON.stringify(REQUIRED_MODULES)}`,
  'missing = []',
  'for m in mods:',
  '    try:',
  '        if importlib.util.find_spec(m) is None: missing.append(m)',
  '    except Exception: missing.append(m)',
  'em = False',
  'try: em = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))',
  'except Exception: pass',
  'print(json.dumps({"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3], "missing": missing, "em": em, "prefix": sys.prefix}))',
].join('\n');

interface RawProbe {
  executable: string;
  version: string;
  missing: string[];
  em: boolean;
  prefix: string;
}

/** Process-wide cache (module state on purpose): each interpreter's probe, a fact of this machine; `clearPythonCache` forgets it. */
const cache = new Map<string, Promise<RawProbe | { failure: string }>>();

/** Forgets cached probes (after the user installs packages). */
export function clearPythonProbeCache(): void {
  cache.clear();
}

function runProbe(command: string, timeoutMs: number): Promise<RawProbe | { failure: string }> {
  return new Promise((resolve) => {
    execFile(command, ['-c', PROBE_SCRIPT], { timeout: timeoutMs, windowsHide: true }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        if (e.code === 'ENOENT') return resolve({ failure: 'not found' });
        if (e.code === 'EACCES') return resolve({ failure: 'not executable (permission denied)' });
        if (e.killed) return resolve({ failure: `did not answer within ${timeoutMs} ms` });
        const last = (stderr || stdout || e.message).trim().split('\n').slice(-2).join(' ');
        return resolve({ failure: `failed to run (${last})` });
      }
      try {
        const line = stdout.trim().split('\n').pop() ?? '';
        resolve(JSON.parse(line) as RawProbe);
      } catch {
        resolve({ failure: `printed something unexpected (${stdout.trim().slice(0, 200)})` });
      }
    });
  });
}

function fixFor(p: { command: string; executable?: string; missing: string[]; externallyManaged?: boolean }): string {
  const exe = p.executable ?? p.command;
  if (p.externallyManaged && (exe.startsWith('/usr/bin/') || exe.startsWith('/bin/'))) {
    return `sudo apt-get install ${p.missing.map((m) => APT_NAMES[m]).join(' ')}`;
  }
  return `${exe} -m pip install ${p.missing.map((m) => PIP_NAMES[m]).join(' ')}`;
}

/** Probes one interpreter (cached per command). */
export async function probePython(
  command: string,
  origin: InterpreterProbe['origin'] = 'candidate',
  timeoutMs = 20000,
): Promise<InterpreterProbe> {
  let p = cache.get(command);
  if (!p) {
    p = runProbe(command, timeoutMs);
    cache.set(command, p);
  }
  const raw = await p;
  if ('failure' in raw) {
    return {
      command,
      origin,
      ok: false,
      missing: [],
      failure: raw.failure,
      fixCommand: command.startsWith('/usr/bin/')
        ? `sudo apt-get install python3 ${REQUIRED_MODULES.map((m) => APT_NAMES[m]).join(' ')}`
        : undefined,
    };
  }
  const [maj, min] = raw.version.split('.').map(Number);
  const tooOld = maj < 3 || (maj === 3 && min < 8);
  const probe: InterpreterProbe = {
    command,
    origin,
    executable: raw.executable || command,
    version: raw.version,
    ok: raw.missing.length === 0 && !tooOld,
    missing: raw.missing,
    externallyManaged: raw.em,
    failure: tooOld ? `Python ${raw.version} is too old (3.8 or newer is needed)` : undefined,
  };
  if (probe.missing.length) probe.fixCommand = fixFor(probe);
  return probe;
}

function describe(p: InterpreterProbe): string {
  const where =
    p.executable && p.executable !== p.command
      ? `${p.command} (${p.executable}${p.version ? `, Python ${p.version}` : ''})`
      : `${p.command}${p.version ? ` (Python ${p.version})` : ''}`;
  if (p.failure) return `${where}: ${p.failure}`;
  if (p.missing.length) return `${where}: cannot import ${p.missing.join(', ')}`;
  return `${where}: usable`;
}

const ORIGIN_WORDS: Record<InterpreterProbe['origin'], string> = {
  explicit: 'set explicitly',
  env: 'set by the CODEDANCE_PYTHON environment variable',
  'python-extension': "the Python extension's active interpreter",
  candidate: 'the first of python3 on PATH and /usr/bin/python3 with ipykernel, Pillow, numpy and matplotlib',
};

/** Picks the interpreter for the kernel, or throws `PythonEnvironmentError` naming what was tried and how to fix it. */
export async function resolvePython(opts: ResolvePythonOptions = {}): Promise<ResolvedPython> {
  const timeout = opts.probeTimeoutMs ?? 20000;
  const env = opts.env ?? process.env;
  const tried: InterpreterProbe[] = [];
  const chosen = (p: InterpreterProbe, extra = ''): ResolvedPython => ({
    python: p.executable ?? p.command,
    command: p.command,
    source: p.origin,
    version: p.version ?? '',
    reason: `${ORIGIN_WORDS[p.origin]}${extra}`,
    tried,
  });

  const explicit = opts.explicit?.trim() || undefined;
  const fromEnv = env.CODEDANCE_PYTHON?.trim() || undefined;
  if (explicit || fromEnv) {
    const origin = explicit ? 'explicit' : 'env';
    const p = await probePython((explicit ?? fromEnv)!, origin, timeout);
    tried.push(p);
    if (p.ok) return chosen(p);
    throw chosenUnusable(p, origin, tried);
  }

  if (opts.pythonExtension?.trim()) {
    const p = await probePython(opts.pythonExtension.trim(), 'python-extension', timeout);
    tried.push(p);
    if (p.ok) return chosen(p);
  }

  const p = await firstUsableCandidate(opts.candidates ?? DEFAULT_CANDIDATES, tried, timeout);
  if (!p) throw noUsablePython(tried);
  const skipped = tried.filter((t) => t !== p);
  return chosen(p, skipped.length ? `; skipped ${skipped.map(describe).join('; ')}` : '');
}

/** The first candidate that can run the kernel (an interpreter already tried is not tried again); each one probed is added to `tried`. */
async function firstUsableCandidate(
  candidates: readonly string[],
  tried: InterpreterProbe[],
  timeout: number,
): Promise<InterpreterProbe | undefined> {
  const seen = new Set(tried.map((t) => t.executable ?? t.command));
  for (const c of candidates) {
    const p = await probePython(c, 'candidate', timeout);
    if (p.executable && seen.has(p.executable) && tried.some((t) => t.executable === p.executable)) continue;
    tried.push(p);
    if (p.executable) seen.add(p.executable);
    if (p.ok) return p;
  }
  return undefined;
}

/** The interpreter the user chose (setting, flag or CODEDANCE_PYTHON) cannot run the kernel: why, and the install command when packages are missing. */
function chosenUnusable(p: InterpreterProbe, origin: 'explicit' | 'env', tried: InterpreterProbe[]): PythonEnvironmentError {
  // the setting (VS Code) or flag (CLI) is named by the adapters from fix.setting
  const where = origin === 'explicit' ? 'The configured Python interpreter' : 'The Python interpreter in CODEDANCE_PYTHON';
  const other = origin === 'explicit' ? 'use an interpreter' : 'point CODEDANCE_PYTHON at an interpreter';
  return new PythonEnvironmentError(
    {
      reason: `${where} cannot run the CodeDance kernel: ${describe(p)}.`,
      fix: {
        text: p.fixCommand
          ? `install the missing packages with \`${p.fixCommand}\`, or ${other} that has ipykernel, Pillow, numpy and matplotlib`
          : `${other} that exists and has ipykernel, Pillow, numpy and matplotlib (or clear it to search python3 and /usr/bin/python3)`,
        ...(origin === 'explicit' ? { setting: 'python.interpreter' as const } : {}),
        ...(p.fixCommand ? { command: p.fixCommand } : {}),
      },
    },
    tried,
  );
}

/** None of the interpreters tried can run the kernel: each one and why, and the install commands. */
function noUsablePython(tried: InterpreterProbe[]): PythonEnvironmentError {
  const fixes = tried.filter((t) => t.fixCommand).map((t) => `\`${t.fixCommand}\` (for ${t.executable ?? t.command})`);
  return new PythonEnvironmentError(
    {
      reason: `No usable Python for the CodeDance kernel. It needs ipykernel, Pillow (PIL), numpy and matplotlib. Tried:\n${tried.map((t) => `  - ${describe(t)}`).join('\n')}`,
      fix: {
        text: `${fixes.length ? `install the missing packages: ${fixes.join(', or ')}; or ` : ''}choose an interpreter that has them (or set CODEDANCE_PYTHON)`,
        setting: 'python.interpreter',
        ...(fixes.length === 1 ? { command: tried.find((t) => t.fixCommand)!.fixCommand } : {}),
      },
    },
    tried,
  );
}
