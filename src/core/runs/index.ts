// What the CLI and the editor use of src/core/runs; the rest is imported from its own module
// (metricLines, traceback, runConfig, checkpoints' mergeCommand, …).
export * from './types';
export { RunsError } from './errors';
export { MetricsStore } from './metricsStore';
export { KEY_METRICS, withDerived } from './keyMetrics';
export { DEFAULT_THRESHOLDS, evaluateAlarms } from './alarms';
export { parseRolloutFile, rolloutStepsFromNames, toolCallCount } from './rollouts';
export { localRunFiles, sshRunFiles, type RunFiles } from './runFiles';
export { listCheckpoints } from './checkpoints';
export { followJobLog, readJobLog } from './follow';
export { jobRun } from './jobRun';
