// ESLint (flat config): the layer rules as import zones, unused code, and the file-size limit.
// `npm run lint` runs it; `npm test`'s static layer counts it as one test.
//   src/core     runs in plain Node, the CLI and the eval runner: no `vscode`, nothing from
//                src/extension, src/webview, src/cli or src/protocol (the editor is reached through interfaces)
//   src/protocol the webview protocols, imported by both sides: runs in the browser too (no `vscode`,
//                no Node built-ins), nothing from src/extension, src/webview or src/cli; of core's code
//                it runs only the pure modules in `protocolRunsOfCore`, and it re-exports what the
//                webviews need of them (core's types it may import freely)
//   src/webview  runs in a browser: no `vscode`, no Node built-ins (`node:*` or bare `fs`, `path`…),
//                nothing from src/extension or src/cli (types included); core's types only
//                (`import type`), its code only as src/protocol re-exports it
//   src/extension  nothing from src/webview (types included): what both sides share is in src/protocol
//   inside core  the folder order below (`coreLayers`): a folder imports only folders of lower
//                tiers, type-only imports included (eslint-plugin-import-x `no-restricted-paths`)
//   src/**       no import cycle (`import-x/no-cycle`: run-time imports; `import type` edges are
//                erased by tsc and not followed by the rule)
//   everywhere   no unused variables, imports or expressions; at most 400 lines a file (blank
//                lines and comments count)
//   src/**       functions short and simple: at most 80 lines of code and complexity 20 (`functionSizeBlock`)
// test/unit/lint/*.test.ts proves each rule on small snippets.
import { readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import { noSilentCatch } from './scripts/lint/noSilentCatch.mjs';

const root = path.dirname(fileURLToPath(import.meta.url));
const sourceFiles = ['**/*.{ts,mts,cts,js,mjs,cjs}'];
const ignoredDirs = [
  'node_modules',
  'dist',
  'out',
  '.cache',
  '.git',
  '.vscode-test',
  'codedance-out',
  'test/e2e/.artifacts',
  'test/.tmp',
  'bench/.results',
];

const layerWhy = {
  core: 'src/core must stay editor-free (plain Node, CLI, eval runner): reach the editor through an interface that src/extension implements',
  webview: 'src/webview runs in the browser: talk to the extension through the webview protocol instead',
  webviewLayers:
    'src/webview runs in the browser and reaches the extension only through messages: what both sides need belongs in src/protocol',
  webviewCore:
    "src/webview runs core's code only as src/protocol re-exports it (pure, browser-safe): import core's types with `import type`, or re-export the function from src/protocol",
  protocol:
    'src/protocol is imported by the extension and the webviews alike: it runs in the browser too and imports nothing from src/extension, src/webview or src/cli',
  protocolCore:
    'src/protocol runs only the pure, browser-safe modules of core listed in protocolRunsOfCore (eslint.config.mjs); import anything else of core with `import type`',
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
  const outOfCore = `^(\\./)?(\\.\\./){${up}}(\\.\\./src/)?(extension|webview|cli|protocol)(/|$)`;
  const outOfCoreEsquery = `/^(\\.\\x2F)?(\\.\\.\\x2F){${up}}(\\.\\.\\x2Fsrc\\x2F)?(extension|webview|cli|protocol)(\\x2F|$)/`;
  return {
    files: [`src/core/${'*/'.repeat(depth)}*.{ts,mts,cts,js,mjs,cjs}`],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: layerWhy.core }],
          patterns: [{ regex: outOfCore, message: layerWhy.core }],
        },
      ],
      'no-restricted-syntax': [
        'error',
        ...dynamicImportBans('/^vscode$/', layerWhy.core),
        ...dynamicImportBans(outOfCoreEsquery, layerWhy.core),
      ],
    },
  };
});

/** Relative specifiers into top-level folder(s) `names` of src/ (from any depth): import-rule regex and esquery regex. */
const intoSrc = (names) => [`^(\\./)?(\\.\\./)+(src/)?(${names})(/|$)`, `/^(\\.\\x2F)?(\\.\\.\\x2F)+(src\\x2F)?(${names})(\\x2F|$)/`];
const [webviewLayers, webviewLayersEsquery] = intoSrc('extension|cli');
const [intoCore, intoCoreEsquery] = intoSrc('core');
const browserBans = {
  paths: webviewBanned.map((name) => ({ name, message: layerWhy.webview })),
  syntax: (message) => dynamicImportBans(`/^(node:.*|${webviewBanned.join('|').replace(/\//g, '\\x2F')})$/`, message),
};
/** run-time imports only (`import()`, `require()`), not `typeof import()` types */
const runtimeImportBans = (sourceRegex, message) =>
  dynamicImportBans(sourceRegex, message).filter((b) => !b.selector.startsWith('TSImportType'));

const webviewBlock = {
  files: ['src/webview/**/*.{ts,mts,cts,js,mjs,cjs}'],
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        paths: browserBans.paths,
        patterns: [
          { regex: '^node:', message: layerWhy.webview },
          { regex: webviewLayers, message: layerWhy.webviewLayers },
          { regex: intoCore, message: layerWhy.webviewCore, allowTypeImports: true },
        ],
      },
    ],
    'no-restricted-syntax': [
      'error',
      ...browserBans.syntax(layerWhy.webview),
      ...dynamicImportBans(webviewLayersEsquery, layerWhy.webviewLayers),
      ...runtimeImportBans(intoCoreEsquery, layerWhy.webviewCore),
    ],
  },
};

/**
 * The modules of src/core whose code src/protocol runs (and re-exports to the webviews): pure
 * functions over plain data, no Node. Everything else of core reaches the protocol as types only.
 */
const protocolRunsOfCore = ['trajectory/replay', 'trajectory/images'];
const [protocolLayers, protocolLayersEsquery] = intoSrc('extension|webview|cli');
const protocolCore = `^(\\./)?(\\.\\./)+(src/)?core/(?!(${protocolRunsOfCore.join('|')})$)`;
const protocolCoreEsquery = `/^(\\.\\x2F)?(\\.\\.\\x2F)+(src\\x2F)?core\\x2F(?!(${protocolRunsOfCore.join('|').replace(/\//g, '\\x2F')})$)/`;
const protocolBlock = {
  files: ['src/protocol/**/*.{ts,mts,cts,js,mjs,cjs}'],
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        paths: browserBans.paths.map((p) => ({ ...p, message: layerWhy.protocol })),
        patterns: [
          { regex: '^node:', message: layerWhy.protocol },
          { regex: protocolLayers, message: layerWhy.protocol },
          { regex: protocolCore, message: layerWhy.protocolCore, allowTypeImports: true },
        ],
      },
    ],
    'no-restricted-syntax': [
      'error',
      ...browserBans.syntax(layerWhy.protocol),
      ...dynamicImportBans(protocolLayersEsquery, layerWhy.protocol),
      ...runtimeImportBans(protocolCoreEsquery, layerWhy.protocolCore),
    ],
  },
};

/**
 * The folder order inside src/core, bottom first. A folder (or errors.ts) imports only what sits
 * in a lower tier: not its tier's neighbours, nothing above. Every entry of src/core must be placed
 * here (the config refuses to load otherwise), so a new folder cannot slip past the order.
 */
const coreLayers = [
  ['errors.ts'], //                        the one error root
  ['images', 'secrets', 'files'], //       leaf utilities: mime sniffing, redaction, atomic writes
  ['kernel'], //                           ipykernel sessions and their results
  ['protocol', 'pyhelper'], //             model formats (speak kernel results; sftText: the training text form);
  //                                       the Python helper processes (may launch through kernel/sandbox)
  ['trajectory'], //                       the one data model, and the agent's events (events.ts)
  ['data', 'model', 'jobs'], //            datasets; the model client; cluster backends
  ['agent', 'reward', 'serve'], //         the loop; the seed's scoring; served models (jobs + model)
  ['conversation', 'eval'], //             chat sessions and the eval runner, both over the loop
  ['training-data', 'runs'], //            export and verify (reads eval results); an RL run's metrics, alarms, rollouts, checkpoints (jobs)
  ['benchmarks'], //                       the benchmark catalog: Hub sets converted to eval rows (data reader, training-data writer)
  ['hub'], //                              Hugging Face Hub downloads into its cache; a benchmark fetched and converted once (benchmarks)
];
const coreDir = path.join(root, 'src/core');
const placed = new Set(coreLayers.flat());
for (const entry of readdirSync(coreDir, { withFileTypes: true })) {
  if ((entry.isDirectory() || /\.(ts|mts|cts|js|mjs|cjs)$/.test(entry.name)) && !placed.has(entry.name)) {
    throw new Error(`eslint.config.mjs: src/core/${entry.name} has no place in coreLayers; add it to the tier above everything it imports`);
  }
}
/** One zone per (folder, higher-or-equal neighbour): a message that names both and their tiers. */
const coreOrderZones = coreLayers.flatMap((tier, t) =>
  tier.flatMap((name) =>
    coreLayers.slice(t).flatMap((upper, u) =>
      upper
        .filter((other) => other !== name)
        .map((other) => ({
          target: `src/core/${name}`,
          from: `src/core/${other}`,
          message: `src/core folder order (eslint.config.mjs coreLayers): ${name} (tier ${t}) imports only lower tiers, and ${other} is tier ${t + u}${u === 0 ? ', its neighbour' : ''}. Move what both need down a tier, or pass it in.`,
        })),
    ),
  ),
);

const coreOrderBlock = {
  files: ['src/core/**/*.{ts,mts,cts,js,mjs,cjs}'],
  rules: { 'import-x/no-restricted-paths': ['error', { basePath: root, zones: coreOrderZones }] },
};

// src/extension imports nothing of src/webview, types included: the protocols both sides share
// live in src/protocol (its tsconfig does not reference the webview's either).
const extensionWhy =
  'src/extension must not import src/webview (it is bundled for the browser): what both sides share belongs in src/protocol';
const [intoWebview, intoWebviewEsquery] = intoSrc('webview');
const extensionBlock = {
  files: ['src/extension/**/*.{ts,mts,cts,js,mjs,cjs}'],
  rules: {
    '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ regex: intoWebview, message: extensionWhy }] }],
    'no-restricted-syntax': ['error', ...dynamicImportBans(intoWebviewEsquery, extensionWhy)],
  },
};

const cycleBlock = {
  files: ['src/**/*.{ts,mts,cts,js,mjs,cjs}'],
  rules: { 'import-x/no-cycle': 'error' },
};

// Every swallowed failure says why (issue #22, scripts/lint/noSilentCatch.mjs): `catch {}` and
// `.catch(() => undefined)` without a comment are errors.
const silentCatchBlock = {
  files: ['src/**/*.{ts,mts,cts,js,mjs,cjs}'],
  plugins: { codedance: { rules: { 'no-silent-catch': noSilentCatch } } },
  rules: { 'codedance/no-silent-catch': 'error' },
};

// Function size (issue #22): a long function is split by responsibility, never cut to fit the
// 400-line file rule. `max-lines-per-function` counts code lines (blank lines and comments are
// skipped); `complexity` is ESLint's classic count, where every `&&`, `||`, `??`, `?:` and default
// value adds one besides the branches and loops: hence 20, ESLint's own default, not 10-15.
const functionSizeBlock = {
  files: ['src/**/*.{ts,mts,cts,js,mjs,cjs}'],
  rules: {
    'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
    complexity: ['error', { max: 20 }],
  },
};

export default [
  { ignores: ignoredDirs.map((d) => `${d}/`) },
  {
    files: sourceFiles,
    languageOptions: { parser: tseslint.parser, ecmaVersion: 'latest', sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { '@typescript-eslint': tseslint.plugin, 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json'] })],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.mts', '.cts'] },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'all',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
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
  coreOrderBlock,
  extensionBlock,
  webviewBlock,
  protocolBlock,
  cycleBlock,
  silentCatchBlock,
  functionSizeBlock,
];
