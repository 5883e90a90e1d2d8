// Types for scripts/codeServer.mjs (plain ESM so non-TS scripts can import it too).
import type { BrowserContext } from 'playwright-core';

type Log = (message: string) => void;

export declare const CODE_SERVER_VERSION: string;
export declare const CHROMIUM_PATH: string;

/** `${CODEDANCE_CACHE || ~/.cache/codedance}` */
export declare function cacheRoot(): string;
/** `${cacheRoot()}/code-server-<version>`: a private npm project holding code-server. */
export declare function installDir(): string;

/** Installs code-server once (idempotent, offline); returns the code-server package folder. */
export declare function ensureCodeServer(options?: { log?: Log }): Promise<string>;

export interface WorkbenchUrlOptions {
  url: string;
  workspace?: string;
  extensionDevelopmentPath?: string;
  extensionTestsPath?: string;
}
export declare function workbenchUrl(options: WorkbenchUrlOptions): string;

export interface CodeServer {
  url: string;
  port: number;
  runDir: string;
  logFile: string;
  pid: number;
  stop(): Promise<void>;
  /** workbenchUrl() for this server, workspace and extensionDevelopmentPath. */
  workbenchUrl(extra?: { extensionTestsPath?: string }): string;
}

export declare function startCodeServer(options?: {
  port?: number;
  workspace?: string;
  extensionDevelopmentPath?: string;
  trust?: boolean;
  runDir?: string;
  codeServerDir?: string;
  /** user settings for a first run; a kept runDir's own edits win over them */
  settings?: Record<string, unknown>;
  log?: Log;
}): Promise<CodeServer>;

export declare function freePort(): Promise<number>;

export declare function launchBrowser(options?: {
  userDataDir?: string;
  viewport?: { width: number; height: number };
}): Promise<BrowserContext>;
