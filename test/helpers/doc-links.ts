/**
 * Relative links in Markdown files, checked the way GitHub renders them: the file (or directory) must exist
 * and a `#anchor` must name a heading of the target file. External links (any URL scheme) are not fetched.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** One link as written: the file it is in (relative to the root), its line (1-based) and its target. */
export interface DocLink {
  readonly file: string;
  readonly line: number;
  readonly target: string;
}

/**
 * GitHub's heading id (github-slugger): lower case, every character that is not a letter, mark, number,
 * connector (`_`), hyphen or space removed, each space turned into a hyphen.
 */
export function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The text a heading renders: link texts for links, HTML tags dropped, closing `#`s removed. */
function headingText(raw: string): string {
  return raw
    .replace(/\s+#+\s*$/, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '');
}

/** Lines outside fenced code blocks, with inline code spans blanked (a link in code is not a link). */
function proseLines(markdown: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((text, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
    if (marker && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return;
    }
    if (fence === undefined) out.push({ text, line: i + 1 });
  });
  return out;
}

/** The anchors a Markdown file offers: heading slugs (repeats get -1, -2, ... as on GitHub) and HTML ids. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*)$/.exec(text)?.[1];
    if (heading !== undefined) {
      const slug = githubSlug(headingText(heading));
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      anchors.add(n === 0 ? slug : `${slug}-${n}`);
    }
    for (const m of text.matchAll(/<a\s[^>]*(?:name|id)="([^"]+)"/g)) anchors.add(m[1] ?? '');
  }
  return anchors;
}

/** Every link of a Markdown file: inline `[text](target)`, images, reference definitions, HTML `href`. */
export function linksOf(markdown: string, file: string): DocLink[] {
  const links: DocLink[] = [];
  for (const { text, line } of proseLines(markdown)) {
    const prose = text.replace(/(`+)(?:(?!\1).)+?\1/g, (code) => ' '.repeat(code.length));
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      links.push({ file, line, target: m[1] ?? '' });
    const definition = /^ {0,3}\[[^\]]+\]:\s+<?([^\s>]+)>?/.exec(prose)?.[1];
    if (definition !== undefined) links.push({ file, line, target: definition });
    for (const m of prose.matchAll(/\shref="([^"]+)"/g)) links.push({ file, line, target: m[1] ?? '' });
  }
  return links;
}

/** Why a link does not resolve, or undefined when it does (or is external). */
export function problemWith(link: DocLink, root: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) return undefined;
  const hash = link.target.indexOf('#');
  const pathPart = decodeURIComponent(hash < 0 ? link.target : link.target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(link.target.slice(hash + 1));
  const from = join(root, link.file);
  const target =
    pathPart === ''
      ? from
      : pathPart.startsWith('/')
        ? join(root, pathPart)
        : resolve(dirname(from), pathPart);
  const inside = relative(root, target);
  if (inside.startsWith('..') || inside.startsWith(sep)) return 'points outside the repository';
  if (!existsSync(target)) return `${inside} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(target).isDirectory() || !target.endsWith('.md'))
    return `#${anchor} on a file that has no headings`;
  if (!anchorsOf(readFileSync(target, 'utf8')).has(anchor)) return `${inside} has no heading #${anchor}`;
  return undefined;
}

/** `file:line: link "target": problem` for every broken link of the given files (paths relative to root). */
export function brokenLinks(root: string, files: readonly string[]): string[] {
  return files.flatMap((file) =>
    linksOf(readFileSync(join(root, file), 'utf8'), file).flatMap((link) => {
      const problem = problemWith(link, root);
      return problem === undefined ? [] : [`${link.file}:${link.line}: link "${link.target}": ${problem}`];
    }),
  );
}

/** The documentation whose links must resolve: README.md, docs/*.md, the chart's and manifests' READMEs. */
export function documentationFiles(root: string): string[] {
  const under = (dir: string, keep: (name: string) => boolean): string[] =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
          e.isDirectory()
            ? under(join(dir, e.name), keep)
            : keep(e.name)
              ? [join(dir, e.name).split(sep).join('/')]
              : [],
        )
      : [];
  return [
    'README.md',
    ...under('docs', (name) => name.endsWith('.md')),
    ...under('charts/sentinel', (name) => name === 'README.md'),
    ...under('manifests', (name) => name === 'README.md'),
  ].sort();
}
