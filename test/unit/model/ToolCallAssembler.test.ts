import { strict as assert } from 'node:assert';
import { ToolCallAssembler } from '../../../src/core/model/ToolCallAssembler';

describe('ToolCallAssembler', () => {
  it('OpenAI/vLLM shape: id and name first, arguments in pieces', () => {
    const a = new ToolCallAssembler();
    a.push([{ index: 0, id: 'call_1', type: 'function', function: { name: 'execute_python_code', arguments: '' } }]);
    for (const piece of ['{"co', 'de": "pri', 'nt(1)"}']) a.push([{ index: 0, function: { arguments: piece } }]);
    assert.deepEqual(a.finish(), [
      { id: 'call_1', type: 'function', function: { name: 'execute_python_code', arguments: '{"code": "print(1)"}' } },
    ]);
  });

  it('two calls interleaved, returned in index order', () => {
    const a = new ToolCallAssembler();
    a.push([{ index: 1, id: 'b', function: { name: 'g', arguments: '{"x"' } }]);
    a.push([{ index: 0, id: 'a', function: { name: 'f', arguments: '{}' } }]);
    a.push([{ index: 1, function: { arguments: ':1}' } }]);
    assert.deepEqual(
      a.finish().map((c) => [c.id, c.function.name, c.function.arguments]),
      [
        ['a', 'f', '{}'],
        ['b', 'g', '{"x":1}'],
      ],
    );
  });

  it('a name repeated in every delta is not doubled; a name in pieces is joined', () => {
    const a = new ToolCallAssembler();
    a.push([{ index: 0, id: 'x', function: { name: 'run_python', arguments: '{' } }]);
    a.push([{ index: 0, function: { name: 'run_python', arguments: '}' } }]);
    a.push([{ index: 1, id: 'y', function: { name: 'execute_', arguments: '' } }]);
    a.push([{ index: 1, function: { name: 'python_code', arguments: '{}' } }]);
    assert.deepEqual(
      a.finish().map((c) => c.function.name),
      ['run_python', 'execute_python_code'],
    );
  });

  it('missing index (position) and missing id (generated)', () => {
    const a = new ToolCallAssembler();
    const out = a.push([{ function: { name: 'f', arguments: '{}' } }, { function: { name: 'g', arguments: '{}' } }]);
    assert.deepEqual(
      out.map((d) => d.index),
      [0, 1],
    );
    const calls = a.finish();
    assert.match(calls[0].id, /^call_0_[0-9a-f]{12}$/);
    assert.notEqual(calls[0].id, calls[1].id);
    assert.equal(a.finish()[0].id, calls[0].id, 'stable once generated');
  });

  it('null fields from servers are tolerated', () => {
    const a = new ToolCallAssembler();
    a.push(null);
    a.push([{ index: 0, id: null, type: null, function: { name: 'f', arguments: null } }]);
    assert.equal(a.finish()[0].function.arguments, '');
  });
});
