/** Jupyter server URLs and tokens as the remote backend reads them (src/core/kernel/remote/server.ts). */
import { strict as assert } from 'node:assert';
import { displayUrl, normalizeServerUrl, serverSettings, tokenFromUrl } from '../../../src/core/kernel/remote/server';

describe('remote kernel: server URL and token', () => {
  it('normalizes the base URL (one trailing slash, no query) and keeps a JupyterHub path', () => {
    assert.equal(normalizeServerUrl('http://127.0.0.1:8888'), 'http://127.0.0.1:8888/');
    assert.equal(normalizeServerUrl(' https://hub.example/user/ana// '), 'https://hub.example/user/ana/');
    assert.equal(normalizeServerUrl('http://h:8888/lab?token=abc'), 'http://h:8888/lab/');
  });

  it('rejects what is not an http(s) URL, saying what to give', () => {
    assert.throws(() => normalizeServerUrl('gpu-box:8888'), /must start with http:\/\/ or https:\/\/[\s\S]*Fix:/);
    assert.throws(() => normalizeServerUrl('not a url'), /is not a Jupyter server URL[\s\S]*Fix: give the base URL/);
  });

  it('takes the token printed in the URL when none is given; an explicit token wins; messages never show it', () => {
    assert.equal(tokenFromUrl('http://h:8888/?token=abc'), 'abc');
    assert.equal(serverSettings({ url: 'http://h:8888/?token=abc' }).token, 'abc');
    assert.equal(serverSettings({ url: 'http://h:8888/?token=abc', token: 'def' }).token, 'def');
    assert.equal(serverSettings({ url: 'https://h/x' }).wsUrl, 'wss://h/x/');
    assert.equal(displayUrl('http://u:pw@h:8888/?token=abc'), 'http://h:8888/');
  });
});
