// `codedance/no-silent-catch` (scripts/lint/noSilentCatch.mjs, wired in eslint.config.mjs): a
// swallowed failure without a comment saying why is an error; narrowed or explained ones pass.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '../../..');
const RULE = 'codedance/no-silent-catch';

describe('eslint: codedance/no-silent-catch', function () {
  this.timeout(60000);
  let eslint: ESLint;
  before(() => {
    eslint = new ESLint({ cwd: root, overrideConfigFile: path.join(root, 'eslint.config.mjs') });
  });

  async function problems(code: string, rel = 'src/core/files/probe.ts'): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath: path.join(root, rel), warnIgnored: true });
    return result.messages.map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
  }
  const rejected = async (code: string, what: RegExp) => {
    const p = await problems(code);
    assert.ok(
      p.some((x) => x.startsWith(`${RULE}: `) && what.test(x)),
      `should be rejected: ${code}\ngot ${JSON.stringify(p)}`,
    );
  };
  const clean = async (code: string, rel?: string) => assert.deepEqual(await problems(code, rel), [], `should pass: ${code}`);
  const head = 'export function f(p: Promise<void>, _g: () => void): void {\n';

  it('rejects an empty catch block and a no-op .catch handler without a comment', async () => {
    await rejected(`${head}  try {\n    _g();\n  } catch {}\n}\n`, /an empty catch block hides every failure/);
    await rejected(`${head}  try {\n    _g();\n  } catch (_e) {\n  }\n}\n`, /an empty catch block/);
    for (const handler of ['() => undefined', '() => {}', '() => null', '() => void 0', 'function () {}']) {
      await rejected(`${head}  void p.catch(${handler});\n}\n`, /\.catch\(\) with a handler that does nothing/);
    }
  });

  it('a comment two lines above or on another statement does not explain it', async () => {
    await rejected(`${head}  // why\n\n  void p.catch(() => undefined);\n}\n`, /does nothing/);
    await rejected(`${head}  _g(); // why\n  void p.catch(() => undefined);\n}\n`, /does nothing/);
  });

  it('passes explained, narrowed and handling sites', async () => {
    await clean(`${head}  try {\n    _g();\n  } catch {\n    // g only warms a cache: nothing is lost\n  }\n}\n`);
    await clean(`${head}  try {\n    _g();\n  } catch (e) {\n    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;\n  }\n}\n`);
    await clean(`${head}  void p.catch(() => undefined); // the caller gets the failure through p\n}\n`);
    await clean(`${head}  // the caller gets the failure through p\n  void p.catch(() => undefined);\n}\n`);
    await clean(`${head}  void p.catch(/* surfaced by acquire() */ () => undefined);\n}\n`);
    await clean(`${head}  void p.catch((e: Error) => console.error(e.message));\n}\n`);
  });

  it('applies to src only', async () => {
    await clean(`${head}  void p.catch(() => undefined);\n}\n`, 'test/unit/probe.test.ts');
  });
});
