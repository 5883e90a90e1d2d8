import { startJupyterServer } from './test/fixtures/jupyterServer';
import { startRemoteKernelSession } from './src/core/kernel/remote';
(async () => {
  const srv = await startJupyterServer({ maxSeconds: 120 });
  try {
    const k = await startRemoteKernelSession({ url: srv.url, token: srv.token });
    const conn = (k as any).conn;
    for (let j = 0; j < 3; j++) {
    const t0 = performance.now();
    const f = conn.requestExecute({ code: 'x=1', silent: false, store_history: false });
    f.onIOPub = (m: any) => console.log('iopub', m.header.msg_type, m.content.execution_state ?? '', (performance.now() - t0).toFixed(1));
    f.onReply = (m: any) => console.log('reply', (performance.now() - t0).toFixed(1));
    await f.done; console.log('done', (performance.now() - t0).toFixed(1));
    }
    const r = await k.execute('from PIL import Image\nImage.new("RGB",(100,100))', { onOutput: (e) => console.log('out', e.kind) });
    console.log(r.status, r.images.length, r.stdout);
    const f = conn.requestExecute({ code: '_codedance_run("' + Buffer.from(JSON.stringify({ code: 'from PIL import Image\nImage.new("RGB",(100,100))', maxOutputBytes: 1000 })).toString('base64') + '")' });
    f.onIOPub = (m: any) => console.log('iopub', m.header.msg_type, JSON.stringify(m.content).slice(0, 150), JSON.stringify(m.metadata));
    f.onReply = (m: any) => console.log('reply', JSON.stringify(m.content).slice(0, 300));
    await f.done;
    await k.dispose();
  } finally { await srv.stop(); }
})();
