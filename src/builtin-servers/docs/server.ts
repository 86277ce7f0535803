// The `docs` built-in server: full-text search over a folder of Markdown/text documents, each of which
// is also a resource docs://{path}. A file watcher (plus a refresh before every search) keeps it current.
import { watch, type FSWatcher } from 'node:fs';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { BuiltinContext, BuiltinDefinition } from '../definition.js';
import { guarded, guardedRead, textResult, ToolError } from '../results.js';
import { decodeUriPath, readTextInside, realRoot } from '../../policy/guards/safe-path.js';
import { DOC_EXTENSIONS, DocsIndex } from './search-index.js';

export const docsOptions = z.strictObject({
  /** The documentation folder, relative to the config file's folder. Required. */
  root: z.string().min(1),
  /** A root of `/` or the home folder is refused unless this is true. */
  allow_broad_root: z.boolean().default(false),
});
export type DocsOptions = z.infer<typeof docsOptions>;

const uriOf = (rel: string) => `docs://${rel.split('/').map(encodeURIComponent).join('/')}`;

async function create(options: DocsOptions, ctx: BuiltinContext) {
  const root = await realRoot(options.root, ctx.baseDir, 'docs', options.allow_broad_root);
  const search = ctx.publicName?.('search_documentation') ?? 'search_documentation';
  const index = new DocsIndex(root);
  await index.refresh();
  const server = new McpServer(
    { name: 'switchboard-docs', version: '0.1.0' },
    {
      capabilities: { resources: { listChanged: true } },
      instructions: `Search the documentation with \`${search}\`, then read the docs:// documents it points to.`,
    },
  );

  server.registerTool(
    'search_documentation',
    {
      description:
        'Full-text search of the documentation (BM25 ranking, prefix and fuzzy matching). Returns title, snippet and docs:// URI per hit.',
      inputSchema: {
        query: z.string().min(1).max(1000).describe('words to look for'),
        max_results: z.number().int().min(1).max(50).optional().describe('default 10'),
      },
      annotations: { readOnlyHint: true },
    },
    guarded('search_documentation', async ({ query, max_results }) => {
      const hits = await index.query(query, max_results ?? 10);
      if (hits.length === 0)
        return textResult(`no documents match ${JSON.stringify(query)}`, { results: [] });
      const results = hits.map((h) => ({
        uri: uriOf(h.path),
        title: h.title,
        score: h.score,
        snippet: h.snippet,
      }));
      const text = results
        .map((r, i) => `${i + 1}. ${r.title} (${r.uri}, score ${r.score})\n   ${r.snippet}`)
        .join('\n');
      return textResult(text, { results });
    }),
  );

  server.registerResource(
    'document',
    new ResourceTemplate('docs://{+path}', {
      list: async () => {
        await index.refresh();
        return {
          resources: index
            .paths()
            .map((rel) => ({ uri: uriOf(rel), name: index.title(rel) ?? rel, mimeType: 'text/markdown' })),
        };
      },
    }),
    {
      description: `A document of the documentation folder (${DOC_EXTENSIONS.join(', ')})`,
      mimeType: 'text/markdown',
    },
    (uri, variables) =>
      guardedRead('reading the document', async () => {
        const raw = Array.isArray(variables.path) ? variables.path.join(',') : variables.path;
        const rel = decodeUriPath(raw);
        const ext = rel.slice(rel.lastIndexOf('.')).toLowerCase();
        if (!DOC_EXTENSIONS.includes(ext))
          throw new ToolError(`${JSON.stringify(rel)} is not a document (${DOC_EXTENSIONS.join(', ')})`);
        const { text } = await readTextInside(root, rel, 2 * 1024 * 1024);
        return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text }] };
      }),
  );

  // The watcher only hurries the refresh along and announces new or removed documents; searches refresh anyway.
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    watcher = watch(root, { recursive: true }, () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        void index.refresh().then(
          (changed) => {
            if (changed && server.isConnected()) server.sendResourceListChanged();
          },
          () => undefined,
        );
      }, 100);
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined; // recursive watch unsupported: searches and lists still refresh first
  }

  return {
    server,
    close: async () => {
      clearTimeout(timer);
      watcher?.close();
      await server.close();
    },
  };
}

export const docs: BuiltinDefinition<DocsOptions> = { optionsSchema: docsOptions, create };
