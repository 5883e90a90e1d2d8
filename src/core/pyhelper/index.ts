/** Long-lived Python helper processes over JSON lines (PythonHelper.ts). Re-exports only. */
export { helperProgram } from './helperProgram';
export { PythonHelper } from './PythonHelper';
export type { PythonHelperOptions, SpawnPlan } from './PythonHelper';
export { PythonHelperError } from './PythonHelperError';
