/**
 * The README and docs/ link to each other by file and heading: every relative link must name a
 * file that exists and, for a Markdown file, a heading it has (GitHub's anchor spelling).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

const FILES = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  return new Set([...readFileSync(file, 'utf8').matchAll(/^#+ (.*)$/gm)].map((m) => anchor(m[1]!)));
}

describe('documentation links', () => {
  it('every relative link in the README and docs/ resolves to a file and heading', () => {
    const broken: string[] = [];
    for (const file of FILES) {
      const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^[a-z]+:/.test(link)) continue;
        const [path, hash] = link.split('#') as [string, string | undefined];
        const target = path === '' ? file : normalize(join(dirname(file), path));
        if (!existsSync(target)) broken.push(`${file}: ${link} (no such file)`);
        else if (hash !== undefined && target.endsWith('.md') && !anchorsOf(target).has(hash)) broken.push(`${file}: ${link} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('this test can fail: a link to a missing heading is reported', () => {
    expect(anchorsOf('README.md').has(anchor('Quick start'))).toBe(true);
    expect(anchorsOf('README.md').has('no-such-heading')).toBe(false);
  });
});
