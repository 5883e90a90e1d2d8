import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HistoryStore } from '../src/extension/chat/historyStore';
import { exchangeWithReward } from '../src/extension/data/chatReward';
import { makeConversation } from './chatHistory.bench';
(async () => {
  const conv = await makeConversation();
  const store = new HistoryStore(mkdtempSync(path.join(os.tmpdir(), 'chb-')), () => undefined);
  await store.save(conv);
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const c = await store.load(conv.id);
    const t1 = performance.now();
    const views = c.exchanges.map(exchangeWithReward);
    const t2 = performance.now();
    const json = JSON.stringify({ type: 'conversation', exchanges: views });
    const t3 = performance.now();
    console.log('load', (t1 - t0).toFixed(0), 'views', (t2 - t1).toFixed(0), 'json', (t3 - t2).toFixed(0), (json.length / 1e6).toFixed(1), 'MB');
  }
})();
