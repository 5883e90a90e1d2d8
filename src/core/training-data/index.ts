/**
 * The training-data loop: trajectories out as CodeDance-SFT / CodeDance-RL rows (export.ts), and
 * SFT rows replayed in fresh kernels to check that their code still does what they record
 * (verify.ts).
 */
export { exportTrainingData, DEFAULT_ABILITY, DEFAULT_CHAT_DATA_SOURCE, type ExportOptions, type ExportSummary, type TrainingFormat } from './export';
export { ExportError, rlRow, sftRow, promptMessages, type RlRow, type SftRow } from './rows';
export { conversationItems, evalResultItems, itemsFromPath, trajectoryFileItems, trajectoryItems, type EvalSelection, type ExportItem, type SkippedItem } from './sources';
export { IMAGE_TOKEN, toSftMessages, type SftMessage } from './sftText';
