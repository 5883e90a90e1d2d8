/**
 * The way to a cluster's login node, built from the profile and ~/.ssh/config the way OpenSSH
 * builds it: the target's HostName/User/Port/IdentityFile, and the jump hosts (ProxyJump) or the
 * command (ProxyCommand) that reach it.
 *
 * OpenSSH semantics, followed here: `ProxyJump a,b,c` for host T means "reach c with `-J a,b`,
 * then open a channel from c to T". Each hop is looked up in the same ssh_config (its HostName,
 * User, Port, IdentityFile; `user@`/`:port` written in the list win over its Host block). Because
 * the rest of the list is passed as `-J`, the ProxyJump/ProxyCommand of the hops b and c in
 * ssh_config are NOT used; only the first hop (a) is reached the way its own Host block says (its
 * ProxyJump is followed, recursively, or its ProxyCommand run). A profile's `proxyJump` is the
 * command line's `-J`: it replaces what ssh_config says for the target (`none`: go directly).
 * The profile's user/port/identityFile apply to the target only, as `-l`/`-p`/`-i` do in ssh.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobsError } from './errors';
import { expandHome, parseProxyJump, parseSshConfig, type JumpSpec, type SshProxy } from './sshConfig';

/** How far a chain of jump hosts may go before it is taken for a loop in ssh_config. */
const MAX_HOPS = 10;

export interface ResolvedSshHop {
  /** the name given (a Host alias, or the host itself) */
  alias: string;
  host: string;
  port: number;
  user: string;
  /** identity files that exist, in the order they are tried */
  identityFiles: string[];
  /** for messages: user@host:port */
  label: string;
}

export interface ResolvedSshTarget extends ResolvedSshHop {
  /** the jump hosts, in the order they are dialled; empty when the target is dialled directly */
  jumps: ResolvedSshHop[];
  /** a command (tokens expanded) whose stdin/stdout carry the connection to the first hop: `jumps[0]`, or the target when there are none */
  proxyCommand?: string;
}

/** The SSH fields of a profile (a Slurm profile, or a Ray profile's jump host). */
export interface SshRouteOptions {
  host: string;
  user?: string;
  port?: number;
  identityFile?: string;
  /** an ssh_config-style file (default ~/.ssh/config) */
  sshConfig?: string;
  /** like ssh's `-J`: jump hosts for the target, replacing ssh_config's ProxyJump/ProxyCommand; `none`: directly */
  proxyJump?: string;
}

interface HopOverrides {
  user?: string;
  port?: number;
  identityFile?: string;
}

/** ProxyCommand's tokens, as ssh_config(5) TOKENS lists them for it. */
export function expandProxyCommand(command: string, hop: ResolvedSshHop): string {
  const values: Record<string, string> = {
    '%': '%',
    h: hop.host,
    p: String(hop.port),
    r: hop.user,
    n: hop.alias,
    u: os.userInfo().username,
    d: os.homedir(),
  };
  return command.replace(/%(.?)/g, (_, k: string) => {
    const v = values[k];
    if (v === undefined)
      throw new JobsError(
        'config',
        `ProxyCommand for ${hop.alias} has an unknown token %${k} (known: %%, %h, %p, %r, %n, %u, %d): "${command}"`,
      );
    return v;
  });
}

function defaultKeys(): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => path.join(os.homedir(), '.ssh', f));
}

class RouteBuilder {
  private readonly hops: string[] = [];

  constructor(
    private readonly configText: string,
    private readonly configFile: string,
  ) {}

  private lookup(alias: string) {
    try {
      return parseSshConfig(this.configText, alias);
    } catch (e) {
      throw new JobsError('config', `${this.configFile}, Host ${alias}: ${(e as Error).message}`);
    }
  }

  /** `alias` and, before it, the hops that reach it; `proxyOverride` is a `-J` list (or none) given for it. */
  build(alias: string, over: HopOverrides, proxyOverride: SshProxy | undefined): { hops: ResolvedSshHop[]; proxyCommand?: string } {
    this.hops.push(alias);
    if (this.hops.length > MAX_HOPS) {
      throw new JobsError(
        'config',
        `the ProxyJump chain to ${this.hops[0]} is longer than ${MAX_HOPS} hops (${this.hops.join(' ← ')}): a loop in ${this.configFile}? Set "ProxyJump none" in the Host block of a jump host that is reached directly`,
      );
    }
    const cfg = this.lookup(alias);
    const host = cfg.hostName ?? alias;
    const user = over.user ?? cfg.user ?? os.userInfo().username;
    const port = over.port ?? cfg.port ?? 22;
    const candidates = over.identityFile ? [expandHome(over.identityFile)] : cfg.identityFiles.length ? cfg.identityFiles : defaultKeys();
    const hop: ResolvedSshHop = {
      alias,
      host,
      port,
      user,
      identityFiles: candidates.filter((f) => existsSync(f)),
      label: `${user}@${host}:${port}`,
    };
    const proxy = proxyOverride ?? cfg.proxy;
    if (!proxy || proxy.kind === 'none') return { hops: [hop] };
    if (proxy.kind === 'command') return { hops: [hop], proxyCommand: expandProxyCommand(proxy.command, hop) };
    const last: JumpSpec = proxy.hops[proxy.hops.length - 1];
    const rest = proxy.hops.slice(0, -1);
    const before = this.build(last.host, { user: last.user, port: last.port }, rest.length ? { kind: 'jump', hops: rest } : undefined);
    return { hops: [...before.hops, hop], proxyCommand: before.proxyCommand };
  }
}

/** The profile merged with ssh_config (the profile wins), with the jump hosts that lead to it. */
export function resolveSshTarget(profile: SshRouteOptions): ResolvedSshTarget {
  const configFile = expandHome(profile.sshConfig ?? '~/.ssh/config');
  const text = existsSync(configFile) ? readFileSync(configFile, 'utf8') : '';
  let proxyOverride: SshProxy | undefined;
  if (profile.proxyJump !== undefined) {
    try {
      proxyOverride = parseProxyJump(profile.proxyJump);
    } catch (e) {
      throw new JobsError('config', `proxyJump of the cluster profile for ${profile.host}: ${(e as Error).message}`);
    }
  }
  const { hops, proxyCommand } = new RouteBuilder(text, configFile).build(
    profile.host,
    { user: profile.user, port: profile.port, identityFile: profile.identityFile },
    proxyOverride,
  );
  const target = hops[hops.length - 1];
  return { ...target, jumps: hops.slice(0, -1), ...(proxyCommand !== undefined ? { proxyCommand } : {}) };
}

/** For messages: how a hop is named, e.g. `jump host bastion (me@10.0.0.1:22), hop 1 of 2 to me@login:22`. */
export function describeHop(target: ResolvedSshTarget, index: number): string {
  const hop = target.jumps[index];
  const name = hop.alias === hop.host ? hop.label : `${hop.alias} (${hop.label})`;
  return `jump host ${name}, hop ${index + 1} of ${target.jumps.length} to ${target.label}`;
}
