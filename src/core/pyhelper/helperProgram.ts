/**
 * The Python side of a `PythonHelper` (PythonHelper.ts has the protocol): the caller's setup code
 * wrapped in the loop that speaks it. stdout carries the protocol alone (the setup's and the
 * handler's prints go to stderr); requests are handled one at a time, in order; the working
 * folder is not on `sys.path` (a stray `math_verify.py` there is not imported).
 */

/**
 * The Python program of a helper: `setup` is Python source run once at the top level; it must
 * define `handle(params)` (its return value is the result, JSON-serializable; what it raises is
 * the request's error) and may set `READY`, a dict sent with the ready line.
 */
export function helperProgram(setup: string): string {
  return [
    'import json, sys',
    '_out = sys.stdout',
    'sys.stdout = sys.stderr',
    'sys.path = [p for p in sys.path if p not in ("", ".")]',
    'def _send(o):',
    '    _out.write(json.dumps(o) + "\\n")',
    '    _out.flush()',
    'def _describe(e):',
    '    return (type(e).__name__ + ": " + str(e)).replace("\\n", " ")',
    'READY = {}',
    'try:',
    `    exec(compile(${JSON.stringify(setup)}, "<helper setup>", "exec"))`,
    'except BaseException as e:',
    '    _send({"ready": False, "error": _describe(e)})',
    '    sys.exit(0)',
    '_send({"ready": True, "info": READY})',
    'for _line in sys.stdin:',
    '    if not _line.strip():',
    '        continue',
    '    _req = json.loads(_line)',
    '    try:',
    '        _send({"id": _req["id"], "result": handle(_req.get("params"))})',
    '    except Exception as e:',
    '        _send({"id": _req["id"], "error": _describe(e)})',
    '',
  ].join('\n');
}
