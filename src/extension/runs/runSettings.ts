/**
 * The run view's settings: the alarms' thresholds (`codedance.runs.alarms.<field>` for each field
 * of core's AlarmThresholds). Pure: the configuration is passed in.
 */
import { DEFAULT_THRESHOLDS } from '../../core/runs/alarms';
import type { AlarmThresholds } from '../../core/runs/types';

/** The thresholds: each setting `codedance.runs.alarms.<field>` that is a number ≥ 0, else the default. */
export function alarmThresholds(config: { get<T>(key: string): T | undefined }): AlarmThresholds {
  const t: AlarmThresholds = { ...DEFAULT_THRESHOLDS };
  for (const k of Object.keys(t) as (keyof AlarmThresholds)[]) {
    const x = config.get<unknown>(k);
    if (typeof x === 'number' && Number.isFinite(x) && x >= 0) t[k] = x;
  }
  return t;
}
