/**
 * The training-data loop: trajectories out as CodeDance-SFT / CodeDance-RL rows (export.ts), and
 * SFT rows replayed in fresh kernels to check that their code still does what they record
 * (verify.ts).
 */
export { exportTrainingData, type TrainingFormat } from './export';
export { ExportError } from './rows';
export { conversationItems, evalResultItems, itemsFromPath, trajectoryItems, type EvalSelection, type ExportItem } from './sources';
export { toSftMessages } from '../protocol/sftText';
