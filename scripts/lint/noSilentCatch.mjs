// ESLint rule `codedance/no-silent-catch` (issue #22): a swallowed failure must say why nothing
// is lost. It rejects, unless a comment explains them:
//   - `catch {}` / `catch (e) {}` with an empty body (a comment inside the braces explains it);
//   - `p.catch(() => undefined)`, `.catch(() => {})`, `.catch(() => null)`, `.catch(() => void 0)`
//     (a comment inside the call, at the end of its statement's line, or on the line above the
//     statement explains it).
// Anything that can hide lost data (a write, a parse of user data, a results read) should not
// be silenced at all: narrow it to the expected case (`e.code === 'ENOENT'`) or report it.

const WHY = 'handle the expected case (check e.code or the error type), report the failure, or say in a comment why nothing is lost';

/** A handler that does nothing: `() => undefined`, `() => {}`, `() => null`, `() => void 0`. */
function isNoOp(fn) {
  if (fn.type !== 'ArrowFunctionExpression' && fn.type !== 'FunctionExpression') return false;
  const b = fn.body;
  if (b.type === 'BlockStatement') return b.body.length === 0;
  if (b.type === 'Identifier') return b.name === 'undefined';
  if (b.type === 'Literal') return b.value === null;
  return b.type === 'UnaryExpression' && b.operator === 'void' && b.argument.type === 'Literal';
}

function enclosingStatement(node) {
  let n = node;
  while (n.parent && !/(Statement|Declaration)$/.test(n.type)) n = n.parent;
  return n;
}

/**
 * A comment inside `node`, after `stmt` on its last line, or on lines of its own ending just
 * above `stmt` (not another statement's trailing comment).
 */
function explained(sourceCode, node, stmt) {
  if (sourceCode.getCommentsInside(node).length) return true;
  const trailing = (c) => c.range[0] >= stmt.range[1] && c.loc.start.line === stmt.loc.end.line;
  const ownLine = (c) => (sourceCode.getTokenBefore(c)?.loc.end.line ?? 0) < c.loc.start.line;
  const above = (c) => c.range[1] <= stmt.range[0] && c.loc.end.line === stmt.loc.start.line - 1 && ownLine(c);
  return sourceCode.getAllComments().some((c) => trailing(c) || above(c));
}

export const noSilentCatch = {
  meta: {
    type: 'problem',
    docs: { description: 'a swallowed error must be narrowed, reported, or explained by a comment' },
    schema: [],
    messages: {
      emptyCatch: `an empty catch block hides every failure: ${WHY}`,
      noOpCatch: `.catch() with a handler that does nothing hides every failure: ${WHY}`,
    },
  },
  create(context) {
    const sourceCode = context.sourceCode;
    return {
      CatchClause(node) {
        if (node.body.body.length === 0 && sourceCode.getCommentsInside(node.body).length === 0)
          context.report({ node, messageId: 'emptyCatch' });
      },
      CallExpression(node) {
        const callee = node.callee;
        if (callee.type !== 'MemberExpression' || callee.computed || callee.property.name !== 'catch' || node.arguments.length !== 1)
          return;
        if (!isNoOp(node.arguments[0])) return;
        if (!explained(sourceCode, node, enclosingStatement(node))) context.report({ node: node.arguments[0], messageId: 'noOpCatch' });
      },
    };
  },
};
