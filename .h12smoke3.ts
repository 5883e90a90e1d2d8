import { startJupyterServer } from './test/fixtures/jupyterServer';
import { startRemoteKernelSession } from './src/core/kernel/remote';
(async () => {
  const srv = await startJupyterServer({ maxSeconds: 120 });
  try {
    const k = await startRemoteKernelSession({ url: srv.url, token: srv.token });
    const t0 = Date.now();
    const conn = (k as any).conn;
    conn.statusChanged.connect((_: any, s: any) => console.log(Date.now() - t0, 'kstatus', s));
    conn.connectionStatusChanged.connect((_: any, s: any) => console.log(Date.now() - t0, 'conn', s));
    k.onStateChange((s) => console.log(Date.now() - t0, 'STATE', s, k.pid));
    const r = await k.execute('import ctypes\nctypes.string_at(0)');
    console.log(Date.now() - t0, r.status);
    console.log((await k.execute('1+2')).stdout, k.pid);
    await new Promise((r) => setTimeout(r, 4000));
    console.log('pid after', k.pid, k.state);
    await k.dispose();
  } finally { await srv.stop(); }
})();
