/**
 * Where the chat's code runs, remembered: the choice per workspace (workspaceState: the local
 * resolution order, an interpreter picked for this workspace, a kernelspec on a Jupyter server,
 * or the kernel of an open notebook), the
 * Jupyter servers the user added (globalState, URLs only) and their tokens (SecretStorage, never
 * in settings). No `vscode` import: the stores are the structural shapes of Memento and
 * SecretStorage, so that this is unit-tested with plain maps.
 */
import { displayUrl, normalizeServerUrl } from '../../core/kernel/remote/url';

export type KernelChoice =
  /** `python`: an interpreter picked for this workspace; without it, the resolution order */
  | { kind: 'local'; python?: string }
  | { kind: 'remote'; url: string; kernelName?: string }
  /** the kernel of an open notebook (the Jupyter extension's); `name` is its file name */
  | { kind: 'notebook'; uri: string; name: string };

export interface MementoLike {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

export interface SecretsLike {
  get(key: string): Thenable<string | undefined>;
  store(key: string, value: string): Thenable<void>;
  delete(key: string): Thenable<void>;
}

export const CHOICE_KEY = 'codedance.kernel.choice';
export const SERVERS_KEY = 'codedance.kernel.servers';
export const tokenKey = (url: string) => `codedance.jupyter.token:${normalizeServerUrl(url)}`;

/** how a choice is shown (status bar, chat, pickers) */
export function describeChoice(c: KernelChoice, localPython?: string): string {
  if (c.kind === 'local') return c.python ? `local: ${c.python}` : localPython ? `local: ${localPython}` : 'local Python';
  if (c.kind === 'notebook') return `the kernel of ${c.name}`;
  return `${c.kernelName ?? 'default kernel'} on ${displayUrl(c.url)}`;
}

/** the chosen choice, checked (what the workspace state holds came from an older version or a hand) */
function valid(c: KernelChoice | undefined, servers: string[]): KernelChoice | undefined {
  if (c?.kind === 'remote' && typeof c.url === 'string' && servers.includes(normalizeServerUrl(c.url))) return c;
  if (c?.kind === 'notebook' && typeof c.uri === 'string' && typeof c.name === 'string') return c;
  if (c?.kind === 'local' && typeof c.python === 'string' && c.python) return { kind: 'local', python: c.python };
  return undefined;
}

export class KernelChoiceStore {
  private readonly listeners = new Set<(c: KernelChoice) => void>();

  constructor(
    private readonly workspace: MementoLike,
    private readonly global: MementoLike,
    private readonly secrets: SecretsLike,
  ) {}

  /** this workspace's choice; local (the resolution order) unless something else was chosen here (a server still in the list) */
  get choice(): KernelChoice {
    return valid(this.workspace.get<KernelChoice>(CHOICE_KEY), this.servers()) ?? { kind: 'local' };
  }

  async choose(c: KernelChoice): Promise<void> {
    const value =
      c.kind === 'remote'
        ? { kind: 'remote', url: normalizeServerUrl(c.url), ...(c.kernelName ? { kernelName: c.kernelName } : {}) }
        : c.kind === 'notebook'
          ? { kind: 'notebook', uri: c.uri, name: c.name }
          : { kind: 'local', ...(c.python ? { python: c.python } : {}) };
    await this.workspace.update(CHOICE_KEY, value);
    for (const l of [...this.listeners]) l(this.choice);
  }

  onDidChange(listener: (c: KernelChoice) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** the servers the user added (normalized base URLs, no tokens) */
  servers(): string[] {
    return this.global.get<string[]>(SERVERS_KEY) ?? [];
  }

  /** adds a server (its token, if any, to SecretStorage); returns its normalized URL */
  async addServer(url: string, token: string | undefined): Promise<string> {
    const base = normalizeServerUrl(url);
    if (!this.servers().includes(base)) await this.global.update(SERVERS_KEY, [...this.servers(), base]);
    if (token) await this.secrets.store(tokenKey(base), token);
    return base;
  }

  async removeServer(url: string): Promise<void> {
    const base = normalizeServerUrl(url);
    await this.global.update(
      SERVERS_KEY,
      this.servers().filter((s) => s !== base),
    );
    await this.secrets.delete(tokenKey(base));
    if (this.workspace.get<KernelChoice>(CHOICE_KEY)?.kind === 'remote') {
      const c = this.workspace.get<Extract<KernelChoice, { kind: 'remote' }>>(CHOICE_KEY)!;
      if (normalizeServerUrl(c.url) === base) await this.choose({ kind: 'local' });
    }
  }

  token(url: string): Thenable<string | undefined> {
    return this.secrets.get(tokenKey(url));
  }
}
