/**
 * The rooms' allowed arrows (issue 17): the ESLint rule `sentinel/rooms` (scripts/lint-rooms.mjs, turned on for
 * src/ in eslint.config.mjs) refuses an import against the data path or past another room's index.ts, and src/
 * follows it. `npm test` runs this file, so a new backward arrow fails the suite as well as `npm run lint`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';
import ts from 'typescript';
import {
  ALLOWED,
  EXCEPTIONS,
  EXTRA_DOORS,
  checkImport,
  relSrc,
  roomOf,
  ruleMessage,
} from '../scripts/lint-rooms.mjs';

const root = join(import.meta.dirname, '..');

async function lint(filePath: string, code: string): Promise<string[]> {
  // The project's own config (type-aware, so the path must be a file of the project; the text is ours).
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  assert.ok(result);
  return result.messages.filter((m) => m.ruleId === 'sentinel/rooms').map((m) => m.message);
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out.sort();
}

/** Every relative import of every file in src/, static or dynamic, read with the TypeScript compiler. */
function srcImports(): { file: string; specifier: string }[] {
  const out: { file: string; specifier: string }[] = [];
  for (const file of sourceFiles(join(root, 'src'))) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const imported of info.importedFiles) {
      if (imported.fileName.startsWith('.')) out.push({ file, specifier: imported.fileName });
    }
  }
  return out;
}

/**
 * The imports of each file in src/ that load a module at run time: `import type` and `export type` are erased,
 * dynamic imports load later and cannot make a load-time cycle.
 */
function valueImportGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(join(root, 'src'))) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
    const deps = new Set<string>();
    for (const st of source.statements) {
      let specifier: ts.Expression | undefined;
      if (ts.isImportDeclaration(st) && !st.importClause?.isTypeOnly) specifier = st.moduleSpecifier;
      if (ts.isExportDeclaration(st) && !st.isTypeOnly) specifier = st.moduleSpecifier;
      if (specifier && ts.isStringLiteral(specifier) && specifier.text.startsWith('.')) {
        deps.add(join(file, '..', specifier.text).replace(/\.js$/, '.ts'));
      }
    }
    graph.set(relSrc(file), new Set([...deps].map((d) => relSrc(d))));
  }
  return graph;
}

function findCycle(edges: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

describe('lint: the rooms rule fires', () => {
  test('on an import against the data path, naming the arrow', async () => {
    const messages = await lint(
      'src/sampling/index.ts',
      "import { runStore } from '../store/index.js';\nexport const x = runStore;\n",
    );
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, /src\/sampling may not import src\/store \(arrow sampling -> store/);
  });

  test('on a dynamic import against the arrows', async () => {
    const messages = await lint(
      'src/compare/index.ts',
      "export const load = async () => (await import('../agent/index.js')).runAgent;\n",
    );
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, /arrow compare -> agent/);
  });

  test('on an import past another room index.ts, and on a re-export', async () => {
    const messages = await lint(
      'src/store/index.ts',
      "import { parseDuration } from '../config/units.js';\nexport { encodeBlock } from '../storage/block-encoder.js';\nexport const d = parseDuration;\n",
    );
    assert.equal(messages.length, 2);
    assert.match(
      messages[0]!,
      /import src\/config through its index: '\.\.\/config\/index\.js', not '\.\.\/config\/units\.js'/,
    );
    assert.match(messages[1]!, /import src\/storage through its index/);
  });

  test("not on a room's second door (EXTRA_DOORS: config/runtime.js), still on the files behind it", async () => {
    assert.deepEqual(Object.keys(EXTRA_DOORS.config ?? {}), ['runtime.js']);
    const messages = await lint(
      'src/telemetry/index.ts',
      "import { parseEndpoint } from '../config/runtime.js';\nimport { parseSizeBytes } from '../config/units.js';\nexport const all = [parseEndpoint, parseSizeBytes];\n",
    );
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, /not '\.\.\/config\/units\.js'/);
  });

  test('not on allowed arrows, same-room files or packages', async () => {
    const messages = await lint(
      'src/store/index.ts',
      [
        "import { openObjectStore } from '../storage/index.js';",
        "import { SentinelError } from '../errors.js';",
        "import { QueryServer } from './query-server.js';",
        "import { join } from 'node:path';",
        'export const all = [openObjectStore, SentinelError, QueryServer, join];',
        '',
      ].join('\n'),
    );
    assert.deepEqual(messages, []);
  });
});

describe('lint: src/ follows the arrows', () => {
  const imports = srcImports();

  test('every import in src/ is allowed (or listed in EXCEPTIONS)', () => {
    const found = imports.flatMap(({ file, specifier }) => {
      const message = checkImport(file, specifier);
      return message === undefined ? [] : [`${relSrc(file)}: ${message}`];
    });
    assert.deepEqual(found, []);
  });

  test('every EXCEPTIONS entry is still needed', () => {
    const needed = new Set(
      imports
        .filter(({ file, specifier }) => ruleMessage(file, specifier) !== undefined)
        .map(({ file, specifier }) => `${relSrc(file)}: ${specifier}`),
    );
    assert.deepEqual(
      Object.keys(EXCEPTIONS).filter((key) => !needed.has(key)),
      [],
    );
  });

  test('the table of arrows has no cycle, and neither have the rooms of src/', () => {
    const loop = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['a'])],
    ]);
    assert.deepEqual(findCycle(loop), ['a', 'b', 'a']);
    const table = new Map(Object.entries(ALLOWED).map(([room, to]) => [room, new Set(to)]));
    assert.equal(findCycle(table), undefined);
    const rooms = new Map<string, Set<string>>();
    for (const { file, specifier } of imports) {
      if (EXCEPTIONS[`${relSrc(file)}: ${specifier}`] !== undefined) continue;
      const from = roomOf(file);
      const to = roomOf(join(file, '..', specifier));
      if (from === undefined || to === undefined || from === to) continue;
      rooms.set(from, (rooms.get(from) ?? new Set()).add(to));
    }
    assert.equal(findCycle(rooms), undefined);
    assert.ok(rooms.size > 10, 'the import graph of src/ was read');
  });

  test('no file of src/ imports itself back through others (imports that load code)', () => {
    const graph = valueImportGraph();
    assert.ok(graph.size > 100, 'the import graph of src/ was read');
    assert.equal(findCycle(graph)?.join(' -> '), undefined);
  });
});

describe("config's second door", () => {
  test('src/config/runtime.ts loads neither zod nor yaml, through none of its imports (issue 13)', () => {
    // The agent's main thread imports config through it; `import type` is erased.
    const graph = valueImportGraph();
    const loads = (file: string) => {
      const source = ts.createSourceFile(
        file,
        readFileSync(join(root, file), 'utf8'),
        ts.ScriptTarget.Latest,
        false,
      );
      return source.statements.flatMap((st) =>
        (ts.isImportDeclaration(st) && !st.importClause?.isTypeOnly) ||
        (ts.isExportDeclaration(st) && !st.isTypeOnly)
          ? [(st.moduleSpecifier as ts.StringLiteral | undefined)?.text ?? '']
          : [],
      );
    };
    const reached = new Set<string>();
    const queue = ['src/config/runtime.ts'];
    for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
      if (reached.has(file)) continue;
      reached.add(file);
      queue.push(...(graph.get(file) ?? []));
    }
    assert.ok(reached.has('src/config/worker-call.ts') && reached.has('src/config/units.ts'));
    const heavy = [...reached].flatMap((file) =>
      loads(file)
        .filter((spec) => spec === 'zod' || spec === 'yaml')
        .map((spec) => `${file}: ${spec}`),
    );
    assert.deepEqual(heavy, []);
  });
});

describe('one module of Sentinel attribute names', () => {
  test('src/ spells sampling.weight, sampling.completed and deployment.variant only in src/otlp/sentinel-attributes.ts', () => {
    const literal = /['"](sampling\.weight|sampling\.completed|deployment\.variant)['"]/;
    const found = sourceFiles(join(root, 'src'))
      .filter((file) => !file.endsWith('sentinel-attributes.ts'))
      .filter((file) => literal.test(readFileSync(file, 'utf8')))
      .map((file) => relSrc(file));
    assert.deepEqual(found, []);
  });
});

/** Rooms whose index.ts exports only what other rooms use (issue 17); the others still export for tests. */
const LEAN_INDEXES = [
  'sampling',
  'export',
  'receiver',
  'storage',
  'agent',
  'compare',
  'decision-feed',
  'demo',
  'enrich',
  'http',
  'injector',
  'measure',
  'store',
];

/** Names each room's index.ts gives to other rooms: named imports and re-exports, and the CLI's `import()`s. */
function namesUsedFromIndexes(): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const use = (room: string | undefined, name: string) => {
    if (room !== undefined) used.set(room, (used.get(room) ?? new Set()).add(name));
  };
  for (const file of sourceFiles(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
    for (const st of source.statements) {
      const spec = (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier;
      if (!spec || !ts.isStringLiteral(spec) || !spec.text.endsWith('/index.js')) continue;
      const room = roomOf(join(file, '..', spec.text));
      if (room === roomOf(file)) continue;
      const bindings = ts.isImportDeclaration(st) ? st.importClause?.namedBindings : st.exportClause;
      if (bindings && (ts.isNamedImports(bindings) || ts.isNamedExports(bindings))) {
        for (const e of bindings.elements) use(room, (e.propertyName ?? e.name).text);
      }
    }
    for (const m of text.matchAll(/import\('([./\w-]+\/index\.js)'\)\)\.(\w+)/g)) {
      use(roomOf(join(file, '..', m[1]!)), m[2]!);
    }
    for (const m of text.matchAll(/const \{([^}]+)\} = await import\('([./\w-]+\/index\.js)'\)/g)) {
      for (const name of m[1]!.split(',')) use(roomOf(join(file, '..', m[2]!)), name.trim().split(/\s/)[0]!);
    }
  }
  return used;
}

describe('index.ts exports what other rooms use', () => {
  test('the lean rooms export nothing that no other room imports', () => {
    const used = namesUsedFromIndexes();
    const unused: string[] = [];
    for (const room of LEAN_INDEXES) {
      const file = join(root, 'src', room, 'index.ts');
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
      for (const st of source.statements) {
        if (!ts.isExportDeclaration(st) || !st.exportClause || !ts.isNamedExports(st.exportClause)) continue;
        for (const e of st.exportClause.elements) {
          if (!used.get(room)?.has(e.name.text)) unused.push(`src/${room}/index.ts: ${e.name.text}`);
        }
      }
    }
    assert.deepEqual(unused, []);
  });
});
