import { startJupyterServer } from './test/fixtures/jupyterServer';
import { startRemoteKernelSession } from './src/core/kernel/remote';
import { testPng } from './test/integration/kernel/helpers';
(async () => {
  const srv = await startJupyterServer({ maxSeconds: 120 });
  try {
    const t0 = Date.now();
    const k = await startRemoteKernelSession({ url: srv.url, token: srv.token });
    console.log('started', Date.now() - t0, k.workdir, k.pid, k.python, k.state);
    console.log(await k.execute('print(1+1)\nimport os; os.getcwd()'));
    const [p] = await k.setInputImages([testPng(1000, 500)], { resize: 'qwen-smart' });
    console.log(p.width, p.height);
    const r = await k.execute('input_image.crop((0,0,100,100))');
    console.log(r.status, r.images.map(i => [i.mime, i.width, i.height]));
    const t1 = performance.now(); for (let i = 0; i < 20; i++) await k.execute('x=1'); console.log('per cell ms', (performance.now() - t1) / 20);
    console.log(await k.execute('while True: pass', { timeoutMs: 1000 }));
    console.log(await k.execute('import os; os._exit(3)'));
    console.log(await k.execute('print(input_image.size)'));
    await k.dispose();
    try { await startRemoteKernelSession({ url: srv.url, token: 'bad' }); } catch (e: any) { console.log('BAD', e.message); }
    try { await startRemoteKernelSession({ url: srv.url, token: srv.token, kernelName: 'cd-nopkgs' }); } catch (e: any) { console.log('NOPKG', e.message); }
  } finally { await srv.stop(); }
})();
