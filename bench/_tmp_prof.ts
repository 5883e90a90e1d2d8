import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolvePython, startKernelSession } from '../src/core/kernel';
import { getProtocol } from '../src/core/protocol';
(async () => {
  const python = (await resolvePython({})).python;
  const k = await startKernelSession({ python });
  const bytes = readFileSync('/tmp/hr8k.jpg');
  writeFileSync(path.join(k.workdir, 'x.jpg'), bytes);
  await k.execute(`import time as _t
from IPython import get_ipython
from PIL import Image as _I
ip = get_ipython()
_o_set = ip.user_ns['_codedance_set_inputs']
G = _o_set.__globals__
_T = {}
_osave = _I.Image.save
def _save(self, fp, format=None, **kw):
    t = _t.perf_counter(); r = _osave(self, fp, format, **kw); _T['save ' + str(format or fp)[-12:]] = round(_t.perf_counter() - t, 3); return r
_I.Image.save = _save
def _set(p):
    t = _t.perf_counter(); _o_set(p); _T['set'] = round(_t.perf_counter() - t, 3)
ip.user_ns['_codedance_set_inputs'] = _set
`);
  const seedCode = `import io, base64, time
from PIL import Image
data = open('x.jpg','rb').read()
_T.clear()
t = time.perf_counter()
img = Image.open(io.BytesIO(data))
w, h = img.size
img = img.resize((4760, 2688), resample=Image.BICUBIC)
t1 = time.perf_counter()
b = io.BytesIO(); img.save(b, format='PNG'); s = base64.b64encode(b.getvalue()).decode()
img.save('seed.jpg')
print(round(time.perf_counter() - t, 3), round(t1 - t, 3), _T)`;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await k.execute('_T.clear()');
    await k.setInputImages([bytes], getProtocol('codedance').imagePreparation);
    const ms = performance.now() - t0;
    const r = await k.execute('print(_T)');
    const s = await k.execute(seedCode);
    console.log('ours node', ms.toFixed(0), r.stdout.trim(), '\n  seed', s.stdout.trim());
  }
  await k.dispose();
})();
