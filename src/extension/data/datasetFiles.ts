/**
 * The dataset viewer's names, which activation needs before the viewer's code loads (it is a
 * chunk: lazyChunks in scripts/build.mjs): its custom editor types and the verify results file
 * beside a dataset.
 */

/** parquet: the default editor; JSONL: offered with Open With… (a .jsonl is often text to edit) */
export const DATASET_VIEW_TYPE = 'codedance.datasetViewer';
export const DATASET_JSONL_VIEW_TYPE = 'codedance.datasetViewer.jsonl';

export function datasetViewTypeFor(file: string): string {
  return /\.parquet$/i.test(file) ? DATASET_VIEW_TYPE : DATASET_JSONL_VIEW_TYPE;
}

/** `<name>.verify.jsonl` beside the dataset: "Verify Dataset Code" writes it, the viewer shows it. */
export function verifyResultsFile(file: string): string {
  return file.replace(/\.(parquet|jsonl|ndjson)$/i, '') + '.verify.jsonl';
}
