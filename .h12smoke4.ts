import { startJupyterServer, startTcpProxy } from './test/fixtures/jupyterServer';
import { startRemoteKernelSession } from './src/core/kernel/remote';
(async () => {
  const srv = await startJupyterServer({ maxSeconds: 120 });
  const proxy = await startTcpProxy(srv.port);
  try {
    const k = await startRemoteKernelSession({ url: proxy.url, token: srv.token });
    const conn = (k as any).conn;
    const t0 = Date.now();
    conn.statusChanged.connect((_: any, s: any) => console.log(Date.now() - t0, 'kstatus', s));
    conn.connectionStatusChanged.connect((_: any, s: any) => console.log(Date.now() - t0, 'conn', s));
    await k.execute('kept = "yes"');
    proxy.drop();
    console.log(await k.execute('print(kept)'));
    console.log(await k.execute('print(kept)'));
    await k.dispose();
  } finally { await proxy.close(); await srv.stop(); }
})();
