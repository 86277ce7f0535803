// A reader of the repository finds everything in it: every relative link in every Markdown file resolves to a
// file or folder in the repository (no links into a shared folder outside it, no files that were never added),
// and the documents the README promises exist.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/gateway.js';

/** Folders that hold generated, installed or third-party files, not the repository's own documents. */
const SKIP = new Set(['node_modules', 'dist', 'coverage', '.git', '.conformance']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIP.has(entry.name) || entry.name.startsWith('.lead')) return [];
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(full);
    return entry.name.endsWith('.md') ? [full] : [];
  });
}

/** Inline links `[text](target)` and reference definitions `[id]: target`, outside code. */
function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  const targets = [
    ...[...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...prose.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]),
  ];
  return targets.filter((target) => !/^(?:[a-z][a-z0-9+.-]*:|#)/i.test(target));
}

describe('links in the repository', () => {
  const files = markdownFiles(ROOT);

  it('finds the Markdown files to check', () => {
    expect(files).toContain(path.join(ROOT, 'README.md'));
    expect(files.length).toBeGreaterThan(5);
  });

  for (const file of files) {
    const name = path.relative(ROOT, file);
    it(`every relative link in ${name} resolves to a file in the repository`, () => {
      const broken = relativeLinks(readFileSync(file, 'utf8')).filter((target) => {
        const resolved = path.resolve(path.dirname(file), decodeURIComponent(target.split('#')[0]));
        return !resolved.startsWith(ROOT + path.sep) || !existsSync(resolved);
      });
      expect(broken).toEqual([]);
    });
  }

  it('the README links the design, performance and security documents, and the license', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const doc of ['docs/architecture.md', 'docs/performance.md', 'docs/security-model.md', 'LICENSE']) {
      expect(readme).toContain(`](${doc})`);
      expect(statSync(path.join(ROOT, doc)).size).toBeGreaterThan(500);
    }
  });

  it('no document points readers at files outside the repository', () => {
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect({
        file: path.relative(ROOT, file),
        outside: /\.\.\/shared\/|shared\/(?:PERFORMANCE|ARCHITECTURE)\.md/.test(text),
      }).toEqual({
        file: path.relative(ROOT, file),
        outside: false,
      });
    }
  });

  it('the LICENSE is the MIT license that package.json names', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const license = readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
    expect(pkg.license).toBe('MIT');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 Switchboard contributors\n/);
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS"');
  });
});

describe("the README's config table", () => {
  it('names every config key (so logging.level and every new limit are documented)', async () => {
    const { configSchema, stdioUpstreamSchema, httpUpstreamSchema } =
      await import('../../src/gateway/config.js');
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const table = readme
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .join('\n');
    /** A section's object schema under its .default()/.prefault() wrappers. */
    const objectShape = (schema: unknown): Record<string, unknown> => {
      let inner = schema as { shape?: Record<string, unknown>; _zod?: { def?: { innerType?: unknown } } };
      while (!inner.shape && inner._zod?.def?.innerType) inner = inner._zod.def.innerType as typeof inner;
      return inner.shape ?? {};
    };
    const keys = Object.entries(configSchema.shape)
      .filter(([section]) => section !== 'upstreams')
      .flatMap(([section, schema]) => Object.keys(objectShape(schema)).map((key) => `${section}.${key}`));
    const upstreamKeys = new Set([
      ...Object.keys(stdioUpstreamSchema.shape),
      ...Object.keys(httpUpstreamSchema.shape),
    ]);
    expect(keys).toContain('logging.level');
    const missing = [...keys, ...upstreamKeys].filter((key) => !table.includes(key));
    expect(missing).toEqual([]);
  });
});

describe('the link checker itself', () => {
  it('reports a missing file, a link out of the repository, and ignores URLs, anchors and code', () => {
    const sample = [
      '[ok](README.md) [gone](docs/no-such-file.md) [out](../outside/DESIGN.md)',
      '[web](https://example.com/x.md) [anchor](#top) [mail](mailto:a@b.c)',
      '`[code](in/code.md)`',
      '```\n[fenced](in/fence.md)\n```',
      '[ref]: docs/also-missing.md',
    ].join('\n');
    expect(relativeLinks(sample)).toEqual([
      'README.md',
      'docs/no-such-file.md',
      '../outside/DESIGN.md',
      'docs/also-missing.md',
    ]);
  });
});
