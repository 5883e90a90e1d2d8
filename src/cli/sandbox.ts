/**
 * `--no-sandbox` and `--network` for the commands that run model code (ask, eval), and the one
 * line that says plainly where cells run (sandboxed; UNSANDBOXED with what the code can reach,
 * the reason and the fix; or unsandboxed on a remote kernel).
 */
import { type SandboxMode } from '../core/kernel/sandbox';
import { type CellHost, describeSandbox, localCellHost, remoteCellHost } from '../core/kernel/sandboxNotice';

export const SANDBOX_ARGS = {
  'no-sandbox': { type: 'boolean', default: false },
  network: { type: 'boolean', default: false },
  'pass-env': { type: 'string', multiple: true },
  'no-forked-kernels': { type: 'boolean', default: false },
} as const;

export const SANDBOX_USAGE = `  --no-sandbox           run cells without the bubblewrap sandbox (Linux; elsewhere they always run unsandboxed)
  --network              let sandboxed cells reach the network (default: none)
  --pass-env NAME        let cells see this environment variable too (repeatable; default: an allow-list
                         without keys, tokens or passwords)
  --no-forked-kernels    start every sandboxed kernel as a new interpreter (default: a fork of a template
                         that has imported the libraries once: ~0.1 s and ~20 MB a kernel instead of ~1 s, ~80 MB)`;

export interface SandboxFlags {
  sandbox: SandboxMode;
  network: boolean;
  passEnv: string[];
  /** false: every kernel a new interpreter (kernel/forkTemplate.ts); default true */
  forkedStarts?: boolean;
}

/**
 * The kernel options of the flags; writes the notice to stderr unless quiet. `jupyterUrl`: cells
 * run on that Jupyter server instead (the notice says so; the flags do not apply there).
 */
export function sandboxFromFlags(
  v: { 'no-sandbox'?: boolean; network?: boolean; 'pass-env'?: string[]; 'no-forked-kernels'?: boolean },
  quiet: boolean,
  jupyterUrl?: string,
): SandboxFlags {
  const passEnv = (v['pass-env'] ?? [])
    .flatMap((n) => n.split(','))
    .map((n) => n.trim())
    .filter(Boolean);
  const flags: SandboxFlags = {
    sandbox: v['no-sandbox'] ? 'off' : 'auto',
    network: v.network === true,
    passEnv,
    forkedStarts: v['no-forked-kernels'] !== true,
  };
  if (!quiet) process.stderr.write(`sandbox: ${describeSandbox(cellHostOf(flags, jupyterUrl))}\n`);
  return flags;
}

/** Where cells run with these flags: a kernel started here, or one on the Jupyter server at `jupyterUrl`. */
export function cellHostOf(flags: SandboxFlags, jupyterUrl?: string): CellHost {
  return jupyterUrl ? remoteCellHost(jupyterUrl) : localCellHost(flags.sandbox, flags.network);
}
