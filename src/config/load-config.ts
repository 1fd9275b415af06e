import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { SentinelError } from '../errors.js';
import { deepFreeze } from './command-answer.js';

/**
 * Where a config comes from: a file (optional) and the environment. `file` may be `env:NAME`: the YAML is then
 * the value of the environment variable NAME (the Collector's `env:` config provider), which is how the injector
 * hands an agent its whole config inside the pod spec.
 */
export interface ConfigSources {
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

const ENV_PREFIX = 'SENTINEL_';
/** Variables with the prefix that are not config keys. */
const ENV_NOT_KEYS = new Set(['SENTINEL_CONFIG']);
/** `--config env:NAME`: the config is the YAML in variable NAME. */
const ENV_PROVIDER = 'env:';

/**
 * Loads, merges and validates a config: defaults < file < environment (flags are applied by the CLI).
 * The result is deep-frozen. Errors name the key, what was expected and what was found.
 */
export function loadConfig<S extends z.ZodType>(schema: S, sources: ConfigSources = {}): z.output<S> {
  let raw: Record<string, unknown> = {};
  const env = sources.env ?? {};
  let overrides = env;
  if (sources.file?.startsWith(ENV_PROVIDER)) {
    const name = sources.file.slice(ENV_PROVIDER.length);
    raw = readConfigVariable(name, env);
    // The variable holding the config is not itself a key override (SENTINEL_AGENT_CONFIG is no `agent_config`).
    overrides = { ...env };
    delete overrides[name];
  } else if (sources.file) {
    raw = readConfigFile(sources.file);
  }
  applyEnvOverrides(raw, overrides);
  return validateConfig(schema, raw, sources.file ?? 'defaults');
}

/** Validates an already-merged raw object against `schema`. */
export function validateConfig<S extends z.ZodType>(schema: S, raw: unknown, origin: string): z.output<S> {
  const result = schema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const lines = result.error.issues.map(formatIssue);
    throw new SentinelError(
      'SENTINEL_ERR_CONFIG_INVALID',
      `invalid config (${origin}):\n  ${lines.join('\n  ')}`,
    );
  }
  return deepFreeze(result.data);
}

function readConfigVariable(name: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new SentinelError(
      'SENTINEL_ERR_CONFIG_READ',
      `--config env:NAME expects an environment variable name, got ${JSON.stringify(name)}`,
    );
  }
  const text = env[name];
  if (text === undefined) {
    throw new SentinelError(
      'SENTINEL_ERR_CONFIG_READ',
      `cannot read config from environment variable ${name}: it is not set`,
    );
  }
  return parseConfigText(text, `environment variable ${name}`);
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SentinelError(
      'SENTINEL_ERR_CONFIG_READ',
      `cannot read config file ${file}: ${(err as Error).message}`,
    );
  }
  return parseConfigText(text, `config file ${file}`);
}

function parseConfigText(text: string, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new SentinelError(
      'SENTINEL_ERR_CONFIG_READ',
      `${what} is not valid YAML${where}: ${(err as Error).message}`,
    );
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new SentinelError('SENTINEL_ERR_CONFIG_INVALID', `${what}: expected a YAML mapping at the top`);
  }
  return doc as Record<string, unknown>;
}

/**
 * `SENTINEL_ADMIN__ENDPOINT=0.0.0.0:9999` sets `admin.endpoint`; `__` separates path segments,
 * numeric segments index lists (`SENTINEL_EXPORTERS__0__URL`). Values are read as YAML scalars,
 * so `true`, `42` and `[a, b]` keep their types.
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const keys = Object.keys(env)
    .filter((k) => k.startsWith(ENV_PREFIX) && !ENV_NOT_KEYS.has(k))
    .sort();
  for (const name of keys) {
    const value = env[name];
    if (value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
    let node: Record<string, unknown> = raw;
    for (let i = 0; i < path.length - 1; i++) {
      const seg = path[i] as string;
      const next = node[seg];
      if (next === undefined || next === null || typeof next !== 'object') {
        node[seg] = /^\d+$/.test(path[i + 1] as string) ? [] : {};
      }
      node = node[seg] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = parseEnvValue(value);
  }
}

function parseEnvValue(value: string): unknown {
  try {
    const parsed: unknown = parseYaml(value);
    // Durations, sizes and addresses stay strings; YAML would read "0.0.0.0:9999" fine but not "1:30".
    return parsed === null ? value : parsed;
  } catch {
    return value;
  }
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
  const found = 'input' in issue ? describeValue(issue.input) : undefined;
  switch (issue.code) {
    case 'invalid_type':
      return `${key}: expected ${issue.expected}, got ${found ?? 'nothing'}`;
    case 'unrecognized_keys':
      return issue.keys.map((k) => `${key === '(top level)' ? k : `${key}.${k}`}: unknown key`).join('; ');
    case 'invalid_value':
      return `${key}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}, got ${found}`;
    case 'too_small':
    case 'too_big':
      return `${key}: ${issue.message}${found !== undefined ? `, got ${found}` : ''}`;
    default:
      return `${key}: ${issue.message}`;
  }
}

/** A value as config and policy errors name what they found: `"text"`, `a list`, `a mapping`, `number 3`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${String(value)}`;
}
