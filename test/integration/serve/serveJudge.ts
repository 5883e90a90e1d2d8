/**
 * The fixture LLM-as-judge (test/fixtures/judgeServer.ts) as a served judge: what the stand-in
 * `vllm` (fakeVllm.ts) runs for `--served-model-name judge`, until the job is cancelled.
 *   node --require ./scripts/registerTs.cjs test/integration/serve/serveJudge.ts --port 18901 --model judge
 */
import { startJudgeServer } from '../../fixtures/judgeServer';

const arg = (k: string) => {
  const i = process.argv.indexOf(k);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

startJudgeServer({ port: Number(arg('--port') ?? 18901), models: [arg('--model') ?? 'judge'] }).then(
  (j) => {
    console.log(`fixture judge: ${j.baseUrl} (model ${arg('--model') ?? 'judge'})`);
    const stop = () => j.close().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  },
  (e: Error) => {
    console.error(`fixture judge: ${e.message}`);
    process.exit(1);
  },
);
