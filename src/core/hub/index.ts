/**
 * The Hugging Face Hub, done the ecosystem's way (issue #24 §2): @huggingface/hub for the API,
 * files in the standard cache layout (Python's huggingface_hub finds them and the other way
 * round), HF_ENDPOINT / HF_HUB_OFFLINE / HF_TOKEN honoured, resumable and hash-checked downloads
 * with progress and cancel, the disk space checked first. On top: a catalog benchmark fetched
 * and converted once per revision (benchmarkCache.ts), and a training set's files for the RL
 * template, fetched here or on a cluster as a job (rlData.ts, clusterFetch.ts).
 */
export { prepareBenchmark, type PreparedBenchmark } from './benchmarkCache';
export { clusterFetchJob, fetchedFromLog, NO_DOWNLOADER_EXIT } from './clusterFetch';
export { fetchFiles } from './download';
export { HubError } from './errors';
export { progressText, type HubProgress } from './progress';
export { splitDataFiles, templateFlags, underRoot } from './rlData';
export { hubSettings, type HubSettings } from './settings';
