// ESLint (flat config): the layer rules as import zones, unused code, and the file-size limit.
// `npm run lint` runs it; `npm test`'s static layer counts it as one test.
//   src/core     runs in plain Node, the CLI and the eval runner: no `vscode`, nothing from
//                src/extension, src/webview or src/cli (the editor is reached through interfaces)
//   src/webview  runs in a browser: no `vscode`, no Node built-ins (`node:*` or bare `fs`, `path`…)
//   everywhere   no unused variables, imports or expressions; at most 400 lines a file (blank
//                lines and comments count), except generated files (GENERATED in the first lines)
// test/unit/lint/*.test.ts proves each rule on small snippets.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';

const root = path.dirname(fileURLToPath(import.meta.url));
const sourceFiles = ['**/*.{ts,mts,cts,js,mjs,cjs}'];
const ignoredDirs = ['node_modules', 'dist', 'out', '.cache', '.git', '.vscode-test', 'codedance-out', 'test/e2e/.artifacts', 'test/.tmp', 'bench/.results'];

/** Files that say GENERATED in their first lines (e.g. src/core/kernel/prelude.ts): not linted. */
function generatedFiles(dir = root) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const rel = path.relative(root, full).split(path.sep).join('/');
    if (entry.isDirectory()) {
      if (!ignoredDirs.includes(rel)) found.push(...generatedFiles(full));
    } else if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(entry.name)) {
      const head = readFileSync(full, 'utf8').slice(0, 300);
      if (/^\s*(\/\/|\/\*)[^\n]*\bGENERATED\b/.test(head) || /^\s*\/\*\*?\s*\n\s*\*\s*GENERATED\b/.test(head)) found.push(rel);
    }
  }
  return found;
}

const layerWhy = {
  core: 'src/core must stay editor-free (plain Node, CLI, eval runner): reach the editor through an interface that src/extension implements',
  webview: 'src/webview runs in the browser: talk to the extension through the webview protocol instead',
};
const webviewBanned = ['vscode', ...builtinModules.filter((m) => !m.startsWith('_'))];

/** `import x = require()`, `import()`, `require()` and `typeof import()` forms of the same bans. */
function dynamicImportBans(sourceRegex, message) {
  return [
    { selector: `ImportExpression[source.value=${sourceRegex}]`, message },
    { selector: `CallExpression[callee.name='require'][arguments.0.value=${sourceRegex}]`, message },
    { selector: `TSImportType[argument.literal.value=${sourceRegex}]`, message },
  ];
}

// A core file N folders below src/core reaches src/extension as '../'×(N+1) + 'extension/…'.
// One block per depth keeps the zone exact (a folder named `cli` inside src/core stays legal).
const coreBlocks = [0, 1, 2, 3, 4].map((depth) => {
  const up = depth + 1;
  const outOfCore = `^(\\./)?(\\.\\./){${up}}(\\.\\./src/)?(extension|webview|cli)(/|$)`;
  const outOfCoreEsquery = `/^(\\.\\x2F)?(\\.\\.\\x2F){${up}}(\\.\\.\\x2Fsrc\\x2F)?(extension|webview|cli)(\\x2F|$)/`;
  return {
    files: [`src/core/${'*/'.repeat(depth)}*.{ts,mts,cts,js,mjs,cjs}`],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: layerWhy.core }],
        patterns: [{ regex: outOfCore, message: layerWhy.core }],
      }],
      'no-restricted-syntax': ['error',
        ...dynamicImportBans('/^vscode$/', layerWhy.core),
        ...dynamicImportBans(outOfCoreEsquery, layerWhy.core),
      ],
    },
  };
});

const webviewBlock = {
  files: ['src/webview/**/*.{ts,mts,cts,js,mjs,cjs}'],
  rules: {
    '@typescript-eslint/no-restricted-imports': ['error', {
      paths: webviewBanned.map((name) => ({ name, message: layerWhy.webview })),
      patterns: [{ regex: '^node:', message: layerWhy.webview }],
    }],
    'no-restricted-syntax': ['error',
      ...dynamicImportBans(`/^(node:.*|${webviewBanned.join('|').replace(/\//g, '\\x2F')})$/`, layerWhy.webview),
    ],
  },
};

export default [
  { ignores: [...ignoredDirs.map((d) => `${d}/`), ...generatedFiles()] },
  {
    files: sourceFiles,
    languageOptions: { parser: tseslint.parser, ecmaVersion: 'latest', sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {
        args: 'after-used',
        argsIgnorePattern: '^_',
        varsIgnorePattern: '^_',
        caughtErrors: 'all',
        caughtErrorsIgnorePattern: '^_',
        destructuredArrayIgnorePattern: '^_',
        ignoreRestSiblings: true,
      }],
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      'no-unused-labels': 'error',
      '@typescript-eslint/no-unused-private-class-members': 'error',
      'no-unreachable': 'error',
      'no-useless-assignment': 'error',
      'no-control-regex': 'error',
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
    },
  },
  ...coreBlocks,
  webviewBlock,
];
