import { loadRun } from '../src/core/eval/report';
(async () => {
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const r = await loadRun('/tmp/rep/a/result_m_a.jsonl');
    const t1 = performance.now();
    const json = JSON.stringify({ type: 'runs', runs: [r.run] });
    console.log('loadRun', (t1 - t0).toFixed(0), 'ms; json', (performance.now() - t1).toFixed(0), 'ms', (json.length / 1e6).toFixed(1), 'MB', r.run.samples.length);
  }
})();
