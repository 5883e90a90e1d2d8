/**
 * Dataset evaluation on the agent core (no `vscode`): `runEval` (runner.ts), the seed's
 * scoring (score.ts, judgePrompts.ts, mathVerify.ts), the judge client and its verdict cache
 * (judge.ts), result lines and stats in the seed's format (record.ts, stats.ts) and the
 * append-only results file that makes runs resumable (resultsFile.ts).
 */
export * from './runner';
export * from './score';
export * from './judge';
export * from './judgePrompts';
export * from './record';
export * from './stats';
export * from './resultsFile';
export { mathEquivalent, normalizeMathAnswer } from './mathVerify';
export * from './report';
export type * from './reportTypes';
