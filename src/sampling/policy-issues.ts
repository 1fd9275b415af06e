/**
 * Zod's issues and the YAML document turned into PolicyProblems (policy-problems.ts): where in the file, which
 * policy, which key. Loads yaml and zod's types: the validation's side (policy-config.ts, on the policy worker).
 */
import { isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { describeValue } from '../config/index.js';
import { isRecord, posText, type PolicyProblem } from './policy-problems.js';

const SUB_POLICY_LISTS = new Set(['policies', 'and_sub_policy', 'drop_sub_policy', 'composite_sub_policy']);

export function nodeAt(node: unknown, path: readonly PropertyKey[]): YamlNode | undefined {
  let current: unknown = node;
  for (const seg of path) {
    if (isMap(current)) {
      const pair = current.items.find(
        (it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg),
      );
      if (!pair) return current as YamlNode;
      current = pair.value ?? pair.key;
    } else if (isSeq(current) && typeof seg === 'number') {
      const item = current.items[seg];
      if (item === undefined) return current as YamlNode;
      current = item;
    } else break;
  }
  return current as YamlNode | undefined;
}

export function formatIssue(
  issue: z.core.$ZodIssue,
  root: unknown,
  where: (path: readonly PropertyKey[]) => { line?: number; column?: number },
): PolicyProblem[] {
  // Split the path at the innermost policy object so that the message names the policy and the key.
  const names: string[] = [];
  let keyStart = 0;
  let value: unknown = root;
  let parentKey: PropertyKey | undefined;
  issue.path.forEach((seg, i) => {
    value =
      isRecord(value) || Array.isArray(value) ? (value as Record<PropertyKey, unknown>)[seg] : undefined;
    // A level is a policy when it sits where policies go and is a mapping; anything else there is reported
    // against the enclosing policy's key ("not.not_sub_policy: expected object, got a list").
    const isPolicy =
      isRecord(value) &&
      ((typeof seg === 'number' && parentKey !== undefined && SUB_POLICY_LISTS.has(String(parentKey))) ||
        seg === 'not_sub_policy');
    if (isPolicy) {
      const name = isRecord(value) && typeof value['name'] === 'string' ? value['name'] : `#${String(seg)}`;
      names.push(name);
      keyStart = i + 1;
    }
    parentKey = seg;
  });
  const keyPath = issue.path.slice(keyStart).map(String);
  const joinKeys = (keys: string[]) =>
    keys.map((k, i) => (/^\d+$/.test(k) ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
  const policy = names.length > 0 ? names.join(' > ') : undefined;
  const subject = (keys: string[]) => {
    const key = joinKeys(keys);
    return `${policy !== undefined ? `policy ${JSON.stringify(policy)}: ` : ''}${key || '(policy)'}`;
  };
  const found = 'input' in issue ? describeValue(issue.input) : 'nothing';
  const problem = (keys: string[], path: readonly PropertyKey[], text: string): PolicyProblem => {
    const pos = where(path);
    return {
      message: `${subject(keys)}: ${text}${posText(pos)}`,
      detail: `${subject(keys)}: ${text}`,
      ...(policy !== undefined ? { policy } : {}),
      key: joinKeys(keys),
      ...pos,
    };
  };
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => problem([...keyPath, k], [...issue.path, k], 'unknown key'));
    case 'invalid_type':
      return [
        problem(
          keyPath,
          issue.path,
          found === 'nothing' ? `required (${issue.expected})` : `expected ${issue.expected}, got ${found}`,
        ),
      ];
    case 'invalid_value':
      return [
        problem(
          keyPath,
          issue.path,
          `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}, got ${found}`,
        ),
      ];
    case 'too_small':
    case 'too_big':
      return [problem(keyPath, issue.path, `${issue.message}${found !== 'nothing' ? `, got ${found}` : ''}`)];
    default:
      return [problem(keyPath, issue.path, issue.message)];
  }
}

export function dedupe(problems: PolicyProblem[]): PolicyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => (seen.has(p.message) ? false : (seen.add(p.message), true)));
}
