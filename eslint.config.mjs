// Lint with type information: a lost promise in a daemon is a lost error.
import { relative } from 'node:path';
import { cruise } from 'dependency-cruiser';
import tseslint from 'typescript-eslint';

// No import cycle, type-only imports included (eslint-plugin-import's
// no-cycle skips those): dependency-cruiser reads the whole graph once a run,
// and the rule below reports every import that is part of a cycle.
const { output: graph } = await cruise(
  ['src', 'test', 'bench'],
  {
    baseDir: import.meta.dirname,
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    validate: true,
    ruleSet: { forbidden: [{ name: 'no-circular', severity: 'error', from: {}, to: { circular: true } }] },
  },
  {},
);
/** `file\0specifier` → the cycle that import closes. */
const cycles = new Map(
  graph.modules.flatMap((module) =>
    module.dependencies
      .filter((dependency) => dependency.circular)
      .map((dependency) => [
        `${module.source}\0${dependency.module}`,
        [module.source, ...(dependency.cycle ?? []).map((step) => step.name)].join(' → '),
      ]),
  ),
);
const noImportCycle = {
  meta: { type: 'problem', schema: [], messages: { cycle: 'import cycle: {{cycle}}' } },
  create(context) {
    const file = relative(import.meta.dirname, context.filename);
    const check = (node) => {
      const cycle = typeof node.source?.value === 'string' && cycles.get(`${file}\0${node.source.value}`);
      if (cycle) context.report({ node, messageId: 'cycle', data: { cycle } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

// The layers (README, Layout): server → volumes → backings → system, with state and
// keys beside them; cli talks to the plugin only over its socket; api and lib
// are shared by all. `into(...)` matches an import of those folders of src
// from any depth below a folder of src.
const into = (...dirs) => `^(\\.\\./)+(${dirs.join('|')})/`;
const lowdb = { group: ['lowdb', 'lowdb/*'], message: 'only src/state/store.ts uses lowdb' };
const wiring = {
  regex: '^(\\.\\./)+(main|plugin|host-view)\\.js$',
  caseSensitive: true,
  message: 'main.ts, plugin.ts and host-view.ts wire the layers together: no layer imports them',
};
const fence = (regex, message, more = {}) => ({ regex, caseSensitive: true, message, ...more });
const layers = {
  server: [
    fence(
      into('backings', 'system', 'cli', 'install'),
      'src/server holds protocol only: it calls src/volumes, never a backing, a tool or the CLI',
    ),
    fence(into('state', 'keys'), 'src/server takes only types from src/state and src/keys', { allowTypeImports: true }),
  ],
  volumes: [fence(into('server', 'cli', 'install'), 'src/volumes must not import the layers above it (server, cli)')],
  backings: [fence(into('volumes', 'server', 'cli', 'install'), 'src/backings must not import the layers above it (volumes, server, cli)')],
  system: [
    fence(
      into('backings', 'volumes', 'server', 'cli', 'install', 'keys'),
      'src/system is the bottom layer: it imports no other layer but state',
    ),
  ],
  state: [fence(into('volumes', 'backings', 'server', 'cli', 'install'), 'src/state must not import the layers that use it')],
  keys: [fence(into('volumes', 'backings', 'server', 'cli', 'install'), 'src/keys must not import the layers that use it')],
  cli: [fence('^\\.\\./(?!(api|lib)/)', 'src/cli talks to the plugin over its socket: from src it imports only src/api and src/lib')],
  api: [fence('^\\.\\./(?!lib/)', 'src/api imports nothing from src but src/lib')],
  lib: [fence('^\\.\\./(?!lib/)', 'src/lib imports nothing from src but src/lib')],
};
const restricted = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['dist/', 'plugin-rootfs/', 'node_modules/', '.bench/'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { local: { rules: { 'no-import-cycle': noImportCycle } } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      'local/no-import-cycle': 'error',
      ...restricted(lowdb),
    },
  },
  ...Object.entries(layers).map(([layer, fences]) => ({ files: [`src/${layer}/**/*.ts`], rules: restricted(lowdb, wiring, ...fences) })),
  { files: ['src/state/store.ts', 'src/state/durable-file.ts'], rules: restricted(wiring, ...layers.state) },
);
