/**
 * Each layer is type-checked with its own globals (tsconfig per layer, `tsc -b` runs them all):
 * DOM types only in the webview, Node's nowhere in it; the protocol has neither; core, the CLI and
 * the extension have Node's and no DOM. Proven by checking one small probe file as if it sat in
 * each layer, with that layer's own compiler options.
 */
import { strict as assert } from 'node:assert';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(__dirname, '../../..');

/** The diagnostics of `code` as file `rel` of the layer whose tsconfig is `project`. */
function check(project: string, rel: string, code: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, project),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')) },
  );
  assert.ok(config, project);
  const file = path.join(root, rel);
  const options = { ...config.options, noEmit: true, composite: false, declaration: false, emitDeclarationOnly: false, incremental: false };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  const getSource = host.getSourceFile.bind(host);
  host.readFile = (f) => (path.resolve(f) === file ? code : read(f));
  host.fileExists = (
    (exists) => (f: string) =>
      path.resolve(f) === file || exists(f)
  )(host.fileExists.bind(host));
  host.getSourceFile = (f, lang, ...rest) => (path.resolve(f) === file ? ts.createSourceFile(f, code, lang) : getSource(f, lang, ...rest));
  const program = ts.createProgram({ rootNames: [file], options, host });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName && path.resolve(d.file.fileName) === file)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

/** one probe using the DOM's globals, Node's and the language's: which of them a layer lacks */
const PROBE = [
  'export const t: string = document.title;',
  'export const w = window.innerWidth;',
  'export const env = process.env.HOME;',
  "export const b = Buffer.from('x');",
  "export const u = new URL('http://127.0.0.1/').host;",
  'export const m = new Map<string, number>([[JSON.stringify([1]), 1]]);',
  '',
].join('\n');
/** the globals a layer's probe lacks */
const missing = (project: string, rel: string) =>
  check(project, rel, PROBE)
    .map((d) => /^Cannot find name '(\w+)'/.exec(d)?.[1] ?? d)
    .sort();

describe('per-layer TypeScript configs', function () {
  this.timeout(60000);

  for (const layer of ['core', 'cli', 'extension']) {
    it(`src/${layer}: a DOM global does not compile; Node's do`, () => {
      assert.deepEqual(missing(`src/${layer}/tsconfig.json`, `src/${layer}/probe.ts`), ['document', 'window']);
    });
  }

  it("src/webview: the DOM compiles; Node's globals do not", () => {
    assert.deepEqual(missing('src/webview/tsconfig.json', 'src/webview/probe.ts'), ['Buffer', 'process']);
  });

  it('src/protocol (both sides import it): neither the DOM nor Node, only the language', () => {
    assert.deepEqual(missing('src/protocol/tsconfig.json', 'src/protocol/probe.ts'), ['Buffer', 'URL', 'document', 'process', 'window']);
  });

  it('every layer is a project of the one `tsc -b` (tsconfig.json references them all)', () => {
    const rootConfig = ts.getParsedCommandLineOfConfigFile(
      path.join(root, 'tsconfig.json'),
      {},
      { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
    );
    const refs = (rootConfig?.projectReferences ?? []).map((r) => path.relative(root, r.path).split(path.sep).join('/'));
    assert.deepEqual(refs.sort(), ['src/cli', 'src/core', 'src/extension', 'src/protocol', 'src/webview']);
  });
});
