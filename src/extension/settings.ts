import * as vscode from 'vscode';

/** Typed read of the `codedance.*` settings (the only place that knows their keys). */
export interface CodeDanceSettings {
  endpoints: string[];
  model: string;
  protocol: string;
  /** sampling the user set (any scope); undefined = the protocol's own (codedance: 0.01, 1, 2048; deepeyes: 0, none, 10240) */
  temperature: number | undefined;
  topP: number | undefined;
  maxTokens: number | undefined;
  /** undefined (setting 0) = the protocol's own limit: codedance 7 calls, codedance-tools 6 turns */
  maxTurns: number | undefined;
  interpreter: string;
  timeoutSeconds: number;
  /** the limit on an observation's text, estimated tokens; 0 = none */
  maxObservationTokens: number;
  approval: 'always' | 'auto';
  judgeEndpoint: string;
  judgeModel: string;
  numWorkers: number;
  /** where cells run (core/kernel/sandbox.ts): 'auto' | 'on' | 'off' */
  sandbox: 'auto' | 'on' | 'off';
  /** sandboxed cells may reach the network */
  network: boolean;
  /** kernel address-space limit, MiB; undefined = automatic (min(8192, half the RAM)); 0 = none */
  memoryLimitMb: number | undefined;
  /** names of further environment variables the kernel may see */
  passEnv: string[];
  /** sandboxed kernels start as forks of a template (core/kernel/forkTemplate.ts) */
  forkedKernels: boolean;
}

export function readSettings(scope?: vscode.ConfigurationScope): CodeDanceSettings {
  const c = vscode.workspace.getConfiguration('codedance', scope);
  return {
    endpoints: c.get<string[]>('model.endpoints', ['http://127.0.0.1:8000/v1']),
    model: c.get<string>('model.name', ''),
    protocol: c.get<string>('model.protocol', 'codedance'),
    temperature: explicit<number>(c, 'sampling.temperature'),
    topP: explicit<number>(c, 'sampling.topP'),
    maxTokens: explicit<number>(c, 'sampling.maxTokens'),
    maxTurns: c.get<number>('agent.maxTurns', 0) || undefined,
    interpreter: c.get<string>('python.interpreter', ''),
    timeoutSeconds: c.get<number>('execution.timeoutSeconds', 30),
    maxObservationTokens: c.get<number>('agent.maxObservationTokens', 4096),
    approval: c.get<'always' | 'auto'>('execution.approval', 'always'),
    judgeEndpoint: c.get<string>('judge.endpoint', ''),
    judgeModel: c.get<string>('judge.model', 'judge'),
    numWorkers: c.get<number>('eval.numWorkers', 8),
    sandbox: c.get<'auto' | 'on' | 'off'>('execution.sandbox', 'auto'),
    network: c.get<boolean>('execution.network', false),
    memoryLimitMb: c.get<number | null>('execution.memoryLimitMb', null) ?? undefined,
    passEnv: c.get<string[]>('execution.passEnv', []),
    forkedKernels: c.get<boolean>('execution.forkedKernels', true),
  };
}

/** A setting's value when the user set it in some scope; undefined when only its default applies. */
function explicit<T>(c: vscode.WorkspaceConfiguration, key: string): T | undefined {
  const i = c.inspect<T>(key);
  return i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
}
