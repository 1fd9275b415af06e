// The allowed arrows between Sentinel's rooms (folders of src/), as one table that the ESLint rule
// `sentinel/rooms` (eslint.config.mjs) and test/lint-boundaries.test.ts both read. docs/ARCHITECTURE.md
// ("Allowed arrows") says the same in words: change both together.
import { posix } from 'node:path';

/** Usable by every room: the shared language, config schemas, logging and metrics, the error catalogue, the clock. */
export const SHARED = ['otlp', 'config', 'telemetry', 'errors', 'version', 'clock'];

/** The data path, in order: a room may import the rooms after it, never one before it. */
export const DATA_PATH = ['receiver', 'enrich', 'measure', 'sampling', 'export', 'storage'];

/** What each room may import besides itself. A room missing here may import nothing outside itself. */
export const ALLOWED = {
  errors: [],
  version: [],
  clock: [],
  otlp: ['errors'],
  config: ['errors'],
  telemetry: ['config', 'errors'],
  http: ['config', 'telemetry', 'errors'],
  ...Object.fromEntries(DATA_PATH.map((room, i) => [room, [...SHARED, 'http', ...DATA_PATH.slice(i + 1)]])),
  'decision-feed': [...SHARED, 'http'],
  compare: [...SHARED, 'storage'],
  store: [...SHARED, 'http', 'receiver', 'enrich', 'sampling', 'storage', 'decision-feed', 'compare'],
  injector: [...SHARED, 'http', 'enrich'],
  agent: [...SHARED, 'http', ...DATA_PATH, 'decision-feed'],
  demo: [...SHARED, 'agent', 'store', 'compare'],
  cli: [...SHARED, 'agent', 'store', 'injector', 'compare', 'demo', 'sampling'],
};

/**
 * A room's doors besides its index.ts, each with its reason: `room: { 'file.js': reason }` (imported as
 * `../<room>/<file>.js`). docs/ARCHITECTURE.md ("Allowed arrows") lists them too.
 */
export const EXTRA_DOORS = {
  config: {
    'runtime.js':
      "what a running process needs of config without zod, yaml or a schema: the agent's main thread loads none (issue 13), and index.ts loads every schema",
  },
};

/**
 * Imports that break the rules today, each with the reason it is left: `'src/<file>: <specifier>': reason`.
 * test/lint-boundaries.test.ts fails when an entry is no longer needed.
 */
export const EXCEPTIONS = {};

/** The room of a path relative to the repository (`src/store/x.ts` -> `store`, `src/cli.ts` -> `cli`). */
export function roomOf(file) {
  const parts = posix.normalize(file.replaceAll('\\', '/')).split('/');
  const at = parts.lastIndexOf('src');
  if (at < 0 || at === parts.length - 1) return undefined;
  const rest = parts.slice(at + 1);
  return rest.length === 1 ? rest[0].replace(/\.[cm]?[jt]s$/, '') : rest[0];
}

/**
 * Checks one import of `file` (a path containing `src/`). Returns undefined when allowed, else a message
 * naming the arrow. Bare specifiers (packages, node:) are not rooms.
 */
export function checkImport(file, specifier) {
  const message = ruleMessage(file, specifier);
  if (message === undefined) return undefined;
  return EXCEPTIONS[`${relSrc(file)}: ${specifier}`] === undefined ? message : undefined;
}

/** The rule's verdict on one import, ignoring EXCEPTIONS. */
export function ruleMessage(file, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const norm = posix.normalize(file.replaceAll('\\', '/'));
  const from = roomOf(norm);
  if (from === undefined) return undefined;
  const target = posix.normalize(posix.join(posix.dirname(norm), specifier));
  const to = roomOf(target);
  if (to === undefined || to === from) return undefined;
  const srcAt = target.split('/').lastIndexOf('src');
  const inside = target.split('/').slice(srcAt + 1);
  if (!(from in ALLOWED) || !ALLOWED[from].includes(to)) {
    const allowed = ALLOWED[from] ?? [];
    return (
      `src/${from} may not import src/${to} (arrow ${from} -> ${to} is against the data path; ` +
      `${from} may import: ${allowed.length > 0 ? allowed.join(', ') : 'nothing outside itself'}; ` +
      `docs/ARCHITECTURE.md "Allowed arrows")`
    );
  }
  if (inside.length > 1 && !(inside.length === 2 && isDoor(to, inside[1]))) {
    return `import src/${to} through its index: '${posix.relative(
      posix.dirname(norm),
      target
        .split('/')
        .slice(0, srcAt + 2)
        .join('/'),
    )}/index.js', not '${specifier}' (no import past another room's index.ts)`;
  }
  return undefined;
}

/** True when `file` (`index.js`, `runtime.ts`) is a door of `room`: its index, or one of EXTRA_DOORS. */
function isDoor(room, file) {
  if (/^index\.[jt]s$/.test(file)) return true;
  return EXTRA_DOORS[room]?.[file.replace(/\.ts$/, '.js')] !== undefined;
}

/** `src/...` of a path containing a `src` folder. */
export function relSrc(file) {
  const parts = posix.normalize(file.replaceAll('\\', '/')).split('/');
  return parts.slice(parts.lastIndexOf('src')).join('/');
}

function check(context, node) {
  const source = node.source;
  if (source == null || source.type !== 'Literal' || typeof source.value !== 'string') return;
  const message = checkImport(context.filename, source.value);
  if (message !== undefined) context.report({ node: source, message });
}

/** ESLint plugin: `sentinel/rooms` checks static imports, re-exports and `import()` with a literal. */
export const roomsPlugin = {
  rules: {
    rooms: {
      meta: {
        type: 'problem',
        docs: { description: "Imports follow the rooms' allowed arrows" },
        schema: [],
      },
      create(context) {
        const visit = (node) => check(context, node);
        return {
          ImportDeclaration: visit,
          ExportNamedDeclaration: visit,
          ExportAllDeclaration: visit,
          ImportExpression: visit,
        };
      },
    },
  },
};
