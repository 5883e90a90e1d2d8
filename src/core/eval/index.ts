/**
 * Dataset evaluation on the agent core (no `vscode`): `runEval` (runner.ts), the seed's
 * scoring (score.ts, judgePrompts.ts, mathVerify.ts), the judge client and its verdict cache
 * (judge.ts), result lines and stats in the seed's format (record.ts, stats.ts) and the
 * append-only results file that makes runs resumable (resultsFile.ts) and read with each sample
 * counted once (resultsScan.ts), each line carrying its
 * trajectory (recordTrajectory.ts), the seed's fields derived from it (seedFields.ts); the run
 * manifest (manifest.ts), skipped rows (rows.ts) and the seed's math_verify in a helper process
 * (mathCheck.ts).
 */
export * from './runner';
export * from './manifest';
export * from './rows';
export * from './mathCheck';
export * from '../reward/score';
export * from './judge';
export * from '../reward/judgePrompts';
export * from './record';
export * from './seedFields';
export * from './recordTrajectory';
export * from './stats';
export * from './resultsFile';
export * from './resultsScan';
export { mathEquivalent } from '../reward/mathVerify';
export * from './report';
export type * from './reportTypes';
