// Resources (readme, structure, dependencies, file/{+path}) and prompts of the `project` server.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { guardedRead, ToolError } from '../results.js';
import { decodeUriPath, readTextInside } from '../../policy/guards/safe-path.js';
import type { ProjectOptions } from './options.js';
import { walk } from './walk.js';

const MANIFESTS = ['package.json', 'pyproject.toml', 'requirements.txt', 'go.mod', 'Cargo.toml'];
const STRUCTURE_LIMIT = 5000;

/** Indented tree of the non-ignored files, directories first-seen order, capped. */
async function structure(root: string): Promise<string> {
  const lines = [`${path.basename(root)}/`];
  let count = 0;
  for await (const entry of walk(root, '', { withDirs: true, maxEntries: STRUCTURE_LIMIT + 1 })) {
    if (++count > STRUCTURE_LIMIT) {
      lines.push(`[tree cut at ${STRUCTURE_LIMIT} entries]`);
      break;
    }
    const depth = entry.rel.split('/').length;
    lines.push(`${'  '.repeat(depth)}${path.posix.basename(entry.rel)}${entry.isDir ? '/' : ''}`);
  }
  return lines.join('\n');
}

export function registerProjectContext(
  server: McpServer,
  root: string,
  options: ProjectOptions,
  name: (tool: string) => string,
): void {
  const read = (file: string) => readTextInside(root, file, options.max_file_bytes);

  server.registerResource(
    'readme',
    'project://readme',
    { description: "The project's README", mimeType: 'text/markdown' },
    (uri) =>
      guardedRead('reading the README', async () => {
        const names = await fs.readdir(root);
        const name = names.find((n) => /^readme(\.(md|markdown|rst|txt))?$/i.test(n));
        if (!name) throw new ToolError('the project has no README');
        return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text: (await read(name)).text }] };
      }),
  );

  server.registerResource(
    'structure',
    'project://structure',
    { description: 'Tree of the files not excluded by .gitignore', mimeType: 'text/plain' },
    (uri) =>
      guardedRead('listing the structure', async () => ({
        contents: [{ uri: uri.href, mimeType: 'text/plain', text: await structure(root) }],
      })),
  );

  server.registerResource(
    'dependencies',
    'project://dependencies',
    { description: `Dependency manifests that exist among: ${MANIFESTS.join(', ')}`, mimeType: 'text/plain' },
    (uri) =>
      guardedRead('reading the dependencies', async () => {
        const parts: string[] = [];
        for (const name of MANIFESTS) {
          const found = await read(name).catch(() => undefined);
          if (found) parts.push(`==> ${name} <==\n${found.text.trimEnd()}`);
        }
        const text = parts.length
          ? parts.join('\n\n')
          : `no dependency manifest found (looked for ${MANIFESTS.join(', ')})`;
        return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
      }),
  );

  // {+path} lets the path keep its slashes: project://file/src/index.ts
  server.registerResource(
    'file',
    new ResourceTemplate('project://file/{+path}', { list: undefined }),
    { description: 'A text file of the project, by path relative to the root', mimeType: 'text/plain' },
    (uri, variables) =>
      guardedRead('reading the file', async () => {
        const raw = Array.isArray(variables.path) ? variables.path.join(',') : variables.path;
        const { text } = await read(decodeUriPath(raw));
        return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
      }),
  );

  const testsHint = options.test_command
    ? `\`${name('run_tests')}\` (optionally with a test_path) to run the tests`
    : 'the tests you find (no test command is configured here, so reason about them instead of running them)';

  server.registerPrompt(
    'code_review',
    {
      description: 'Review one file of the project',
      argsSchema: { file_path: z.string().describe('path relative to the root') },
    },
    ({ file_path }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text:
              `Review the file ${file_path} of this project.\n` +
              `1. Read it with \`${name('read_file')}\` (file_path: ${JSON.stringify(file_path)}).\n` +
              `2. Use \`${name('search_codebase')}\` to find its callers and the definitions it relies on, and \`${name('read_file')}\` to read them.\n` +
              `3. Check ${testsHint}.\n` +
              'Report bugs, security problems, unclear code and missing tests, each with the line number and a concrete fix.',
          },
        },
      ],
    }),
  );

  server.registerPrompt(
    'investigate_bug',
    { description: 'Investigate a bug from its description', argsSchema: { description: z.string() } },
    ({ description }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text:
              `Investigate this bug:\n${description}\n\n` +
              'Start from the resources project://structure and project://readme to orient yourself. ' +
              `Use \`${name('search_codebase')}\` with identifiers and messages from the description to find the code involved, ` +
              `\`${name('list_directory')}\` and \`${name('read_file')}\` to read it, ` +
              `and ${testsHint}. ` +
              'State the root cause with file and line, the evidence for it, and the smallest fix.',
          },
        },
      ],
    }),
  );

  server.registerPrompt(
    'debug_error',
    {
      description: 'Explain and fix an error message, with its stack trace if there is one',
      argsSchema: { error_message: z.string(), stack_trace: z.string().optional() },
    },
    ({ error_message, stack_trace }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text:
              `Debug this error:\n${error_message}\n` +
              (stack_trace ? `\nStack trace:\n${stack_trace}\n` : '') +
              `\nUse \`${name('search_codebase')}\` to find where the message is raised` +
              (stack_trace
                ? ` and \`${name('read_file')}\` with start_line/end_line around each frame of the stack trace that is in this project`
                : ` and \`${name('read_file')}\` to read the code around it`) +
              `, then ${testsHint}. Explain the cause and propose a fix.`,
          },
        },
      ],
    }),
  );
}
