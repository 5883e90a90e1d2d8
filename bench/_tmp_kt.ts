import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolvePython, startKernelSession } from '../src/core/kernel';
(async () => {
  const python = (await resolvePython({})).python;
  const k = await startKernelSession({ python });
  writeFileSync(path.join(k.workdir, 'x.jpg'), readFileSync('/tmp/hr8k.jpg'));
  const code = readFileSync('/tmp/ours.py', 'utf8').replace("/tmp/hr8k.jpg", 'x.jpg').replace(/\/tmp\/ii2?\.jpg/g, 'ii.jpg');
  for (let i = 0; i < 2; i++) {
    const r = await k.execute(code, { timeoutMs: 300000 });
    console.log('kernel:', r.stdout, r.stderr, r.error?.evalue);
  }
  await k.dispose();
})();
