/**
 * What the Training Jobs e2e files (jobs.test.ts, jobsUntrusted.test.ts) share: code-server's
 * types, the window title and the log line prefix.
 */
export type CodeServerModule = typeof import('../../scripts/codeServer.mjs');
export type Server = Awaited<ReturnType<CodeServerModule['startCodeServer']>>;

export const DEV_HOST_TITLE = '[Extension Development Host]';
export const log = (msg: string) => console.log(`      [jobs-e2e] ${msg}`);
