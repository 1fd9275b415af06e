import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../src/errors.js';

const repo = new URL('..', import.meta.url);
/** The catalogue's documentation: one table row per code, `| \`SENTINEL_ERR_...\` | meaning |`. */
const CATALOGUE = 'docs/error-codes.md';

function documentedCodes(markdown: string): string[] {
  return [...markdown.matchAll(/^\| `(SENTINEL_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1] ?? '');
}

describe('error code catalogue', () => {
  it(`documents every error code in a row of the ${CATALOGUE} table`, () => {
    const rows = documentedCodes(readFileSync(new URL(CATALOGUE, repo), 'utf8'));
    const missing = Object.keys(ErrorCodes).filter((code) => !rows.includes(code));
    assert.deepEqual(missing, [], `codes missing from ${CATALOGUE}: ${missing.join(', ')}`);
  });

  it(`lists each code once in ${CATALOGUE}, and only codes the catalogue has`, () => {
    const rows = documentedCodes(readFileSync(new URL(CATALOGUE, repo), 'utf8'));
    assert.ok(rows.length > 0, `no code rows found in ${CATALOGUE}`);
    assert.deepEqual(
      rows.filter((code, i) => rows.indexOf(code) !== i),
      [],
      'codes listed twice',
    );
    assert.deepEqual(
      rows.filter((code) => !(code in ErrorCodes)),
      [],
      'codes documented but not in src/errors.ts',
    );
  });

  it('names no unknown code anywhere in README.md or docs/', () => {
    const files = ['README.md', ...readdirSync(new URL('docs/', repo)).map((f) => `docs/${f}`)];
    const unknown = files.flatMap((file) =>
      file.endsWith('.md')
        ? [...readFileSync(new URL(file, repo), 'utf8').matchAll(/SENTINEL_ERR_[A-Z0-9_]+/g)]
            .map((m) => m[0])
            .filter((code) => !(code in ErrorCodes))
            .map((code) => `${file}: ${code}`)
        : [],
    );
    assert.deepEqual(unknown, []);
  });

  it('uses the SENTINEL_ERR_ prefix for every code', () => {
    for (const code of Object.keys(ErrorCodes)) assert.match(code, /^SENTINEL_ERR_[A-Z0-9_]+$/);
  });
});
