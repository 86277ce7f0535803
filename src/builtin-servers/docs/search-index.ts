// The full-text index of a documentation folder (MiniSearch: BM25 ranking, prefix and fuzzy matching),
// kept in step with the files by mtime/size on every refresh, so edits show up without a restart.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import MiniSearch from 'minisearch';
import { looksBinary, readCapped } from '../../policy/guards/safe-path.js';
import { walk } from '../project/walk.js';

export const DOC_EXTENSIONS = ['.md', '.markdown', '.mdx', '.txt', '.rst'];
const MAX_DOC_BYTES = 2 * 1024 * 1024;

interface Doc {
  id: string; // path relative to root
  title: string;
  headings: string;
  text: string;
}

export interface Hit {
  path: string;
  title: string;
  score: number;
  snippet: string;
}

function parse(rel: string, text: string): Doc {
  const headings = [...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => m[1].trim());
  const title = headings[0] ?? path.posix.basename(rel).replace(/\.[^.]+$/, '');
  return { id: rel, title, headings: headings.join('\n'), text };
}

/** ~200 characters around the first query term found in the text (whole terms, then prefixes). */
function snippet(text: string, terms: string[]): string {
  const flat = text.replace(/\s+/g, ' ');
  const lower = flat.toLowerCase();
  let at = -1;
  for (const term of terms) {
    at = lower.indexOf(term.toLowerCase());
    if (at !== -1) break;
  }
  if (at === -1) at = 0;
  const start = Math.max(0, at - 80);
  const end = Math.min(flat.length, at + 120);
  return `${start > 0 ? '…' : ''}${flat.slice(start, end).trim()}${end < flat.length ? '…' : ''}`;
}

export class DocsIndex {
  private readonly search = new MiniSearch<Doc>({
    fields: ['title', 'headings', 'text'],
    storeFields: ['title'],
    searchOptions: { boost: { title: 3, headings: 2 }, prefix: true, fuzzy: 0.2 },
  });
  private readonly seen = new Map<string, { mtimeMs: number; size: number; text: string }>();
  private refreshing: Promise<boolean> | undefined;

  constructor(private readonly root: string) {}

  /** Paths of the indexed documents, sorted. */
  paths(): string[] {
    return [...this.seen.keys()].sort();
  }

  title(rel: string): string | undefined {
    const entry = this.seen.get(rel);
    return entry ? parse(rel, entry.text).title : undefined;
  }

  /** Brings the index in line with the folder; true when the set of documents changed. Calls coalesce. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const present = new Set<string>();
    let changedSet = false;
    for await (const entry of walk(this.root)) {
      if (!DOC_EXTENSIONS.includes(path.posix.extname(entry.rel).toLowerCase())) continue;
      const stat = await fs.stat(entry.abs).catch(() => undefined);
      if (!stat?.isFile()) continue;
      present.add(entry.rel);
      const old = this.seen.get(entry.rel);
      if (old && old.mtimeMs === stat.mtimeMs && old.size === stat.size) continue;
      const read = await readCapped(this.root, entry.abs, MAX_DOC_BYTES).catch(() => undefined);
      if (!read || looksBinary(read.text)) continue;
      if (old) this.search.discard(entry.rel);
      else changedSet = true;
      this.search.add(parse(entry.rel, read.text));
      this.seen.set(entry.rel, { mtimeMs: stat.mtimeMs, size: stat.size, text: read.text });
    }
    for (const rel of [...this.seen.keys()]) {
      if (present.has(rel)) continue;
      this.search.discard(rel);
      this.seen.delete(rel);
      changedSet = true;
    }
    return changedSet;
  }

  async query(query: string, maxResults: number): Promise<Hit[]> {
    await this.refresh();
    const results = this.search.search(query).slice(0, maxResults);
    return results.map((r) => ({
      path: r.id as string,
      title: r.title as string,
      score: Math.round(r.score * 1000) / 1000,
      snippet: snippet(this.seen.get(r.id as string)?.text ?? '', [...r.terms, ...r.queryTerms]),
    }));
  }
}
