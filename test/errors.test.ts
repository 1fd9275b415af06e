import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../src/errors.js';

describe('error code catalogue', () => {
  it('documents every error code in the README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(ErrorCodes).filter((code) => !readme.includes(`\`${code}\``));
    assert.deepEqual(missing, [], `codes missing from README.md "Error codes": ${missing.join(', ')}`);
  });

  it('uses the SENTINEL_ERR_ prefix for every code', () => {
    for (const code of Object.keys(ErrorCodes)) assert.match(code, /^SENTINEL_ERR_[A-Z0-9_]+$/);
  });
});
