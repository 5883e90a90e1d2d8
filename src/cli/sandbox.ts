/**
 * `--no-sandbox` and `--network` for the commands that run model code (ask, eval), and the one
 * line that says plainly where cells run (sandboxed, or UNSANDBOXED with the reason and the fix).
 */
import { describeSandbox, type SandboxMode } from '../core/kernel/sandbox';

export const SANDBOX_ARGS = {
  'no-sandbox': { type: 'boolean', default: false },
  network: { type: 'boolean', default: false },
  'pass-env': { type: 'string', multiple: true },
} as const;

export const SANDBOX_USAGE = `  --no-sandbox           run cells without the bubblewrap sandbox (Linux; elsewhere they always run unsandboxed)
  --network              let sandboxed cells reach the network (default: none)
  --pass-env NAME        let cells see this environment variable too (repeatable; default: an allow-list
                         without keys, tokens or passwords)`;

export interface SandboxFlags {
  sandbox: SandboxMode;
  network: boolean;
  passEnv: string[];
}

/** The kernel options of the flags; writes the notice to stderr unless quiet. */
export function sandboxFromFlags(v: { 'no-sandbox'?: boolean; network?: boolean; 'pass-env'?: string[] }, quiet: boolean): SandboxFlags {
  const passEnv = (v['pass-env'] ?? []).flatMap((n) => n.split(',')).map((n) => n.trim()).filter(Boolean);
  const flags: SandboxFlags = { sandbox: v['no-sandbox'] ? 'off' : 'auto', network: v.network === true, passEnv };
  if (!quiet) process.stderr.write(`sandbox: ${describeSandbox(flags.sandbox, flags.network)}\n`);
  return flags;
}
