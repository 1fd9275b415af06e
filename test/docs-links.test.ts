import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { anchorsOf, brokenLinks, documentationFiles, githubSlug, linksOf } from './helpers/doc-links.js';

const repo = new URL('..', import.meta.url).pathname;

describe('documentation links', () => {
  it('every relative link and anchor in README.md, docs/ and the chart and manifests READMEs resolves', () => {
    const files = documentationFiles(repo);
    assert.ok(files.includes('README.md') && files.includes('docs/error-codes.md'), files.join(', '));
    assert.deepEqual(brokenLinks(repo, files), []);
  });

  it('the README stays a five-minute page: under 300 lines, linking every file in docs/', () => {
    const files = documentationFiles(repo);
    const readme = files.includes('README.md') ? linksOf(readFileText('README.md'), 'README.md') : [];
    const lines = readFileText('README.md').split('\n').length;
    assert.ok(lines < 300, `README.md has ${lines} lines`);
    const linked = new Set(readme.map((l) => l.target.split('#')[0]));
    const unlinked = files.filter((f) => f.startsWith('docs/') && !linked.has(f));
    assert.deepEqual(unlinked, [], 'docs files the README does not link');
  });
});

describe('the link checker', () => {
  const root = mkdtempSync(join(tmpdir(), 'doc-links-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'docs'));
  writeFileSync(
    join(root, 'docs', 'part.md'),
    [
      '# Part',
      '## Store config (`sentinel store --config FILE`)',
      '## Metrics',
      '## Metrics',
      '```sh',
      '# not a heading',
      '```',
    ].join('\n'),
  );
  writeFileSync(
    join(root, 'README.md'),
    [
      '# Readme',
      '[ok](docs/part.md) [ok](docs/part.md#metrics-1) [ok](#readme) [web](https://example.com/x#y)',
      '[missing file](docs/gone.md)',
      'text `[in code](docs/nowhere.md)` and [bad anchor](docs/part.md#not-a-heading)',
      '```',
      '[in a fence](docs/nowhere.md)',
      '```',
      '[code heading is no anchor](docs/part.md#not-a-heading-1) [outside](../elsewhere.md)',
    ].join('\n'),
  );

  it('reports each broken link with its file, line and target, and nothing else', () => {
    assert.deepEqual(brokenLinks(root, ['README.md', 'docs/part.md']), [
      'README.md:3: link "docs/gone.md": docs/gone.md does not exist',
      'README.md:4: link "docs/part.md#not-a-heading": docs/part.md has no heading #not-a-heading',
      'README.md:8: link "docs/part.md#not-a-heading-1": docs/part.md has no heading #not-a-heading-1',
      'README.md:8: link "../elsewhere.md": points outside the repository',
    ]);
  });

  it("makes heading ids by GitHub's rules", () => {
    assert.equal(
      githubSlug('Store config (`sentinel store --config FILE`)'),
      'store-config-sentinel-store---config-file',
    );
    assert.equal(githubSlug('Upgrading: agent.namespaces is gone'), 'upgrading-agentnamespaces-is-gone');
    assert.equal(githubSlug('`sampling:` (agent)'), 'sampling-agent');
    assert.equal(githubSlug('Limits, by design'), 'limits-by-design');
    assert.deepEqual(
      [...anchorsOf('# A\n## B b\n## B b\n## [Link](x.md) text\n```\n# C\n```')],
      ['a', 'b-b', 'b-b-1', 'link-text'],
    );
  });
});

function readFileText(file: string): string {
  return readFileSync(join(repo, file), 'utf8');
}
