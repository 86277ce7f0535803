// The `project` built-in server: deep context about one source tree (tools; resources and prompts live
// in project/context.ts). Every path goes through safe-path.ts.
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { BuiltinContext, BuiltinDefinition } from '../definition.js';
import { capText, guarded, textResult, ToolError } from '../results.js';
import { readDirInside, readTextInside, realRoot, resolveInside } from '../../policy/guards/safe-path.js';
import { registerProjectContext } from './context.js';
import { projectOptions, type ProjectOptions } from './options.js';
import { runTestCommand } from './run-tests.js';
import { searchCodebase } from './search.js';

const LIST_LIMIT = 1000;

/** Numbered lines `from..to` (1-based, inclusive) of a text. */
export function numberLines(
  text: string,
  from = 1,
  to?: number,
): { text: string; total: number; last: number } {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const total = lines.length;
  const last = Math.min(to ?? total, total);
  const width = String(last).length;
  const out: string[] = [];
  for (let i = from; i <= last; i++) out.push(`${String(i).padStart(width)}  ${lines[i - 1]}`);
  return { text: out.join('\n'), total, last };
}

async function create(options: ProjectOptions, ctx: BuiltinContext) {
  const root = await realRoot(options.root, ctx.baseDir, 'project', options.allow_broad_root);
  const name = ctx.publicName ?? ((tool: string) => tool);
  // Promise only the tools this instance registers, by the names the client sees.
  const tests = options.test_command ? `; run its tests with \`${name('run_tests')}\`` : '';
  const server = new McpServer(
    { name: 'switchboard-project', version: '0.1.0' },
    {
      instructions:
        `Context about the source tree ${path.basename(root)}: search it with \`${name('search_codebase')}\`, ` +
        `read files with \`${name('read_file')}\` and list folders with \`${name('list_directory')}\`${tests}.`,
    },
  );
  const cap = options.max_output_chars;

  server.registerTool(
    'search_codebase',
    {
      description:
        'Search the files of the project (honouring .gitignore) for a regular expression (RE2 syntax, linear time; ' +
        '(?i) for case-insensitive). Returns `path:line: text`, capped.',
      inputSchema: {
        pattern: z.string().min(1).describe('RE2 regular expression matched against each line'),
        file_glob: z
          .string()
          .optional()
          .describe('gitignore-style glob for the files to search, e.g. *.ts or src/**/*.py'),
        max_results: z.number().int().min(1).max(1000).optional().describe('default 100'),
      },
      annotations: { readOnlyHint: true },
    },
    guarded('search_codebase', async ({ pattern, file_glob, max_results }) => {
      const result = await searchCodebase(root, pattern, file_glob, max_results ?? 100);
      return textResult(capText(result.text, cap));
    }),
  );

  server.registerTool(
    'read_file',
    {
      description:
        'Read a text file of the project with numbered lines; start_line and end_line (1-based, inclusive) select a range.',
      inputSchema: {
        file_path: z.string().min(1).describe('path relative to the project root'),
        start_line: z.number().int().min(1).optional(),
        end_line: z.number().int().min(1).optional(),
      },
      annotations: { readOnlyHint: true },
    },
    guarded('read_file', async ({ file_path, start_line, end_line }) => {
      if (start_line && end_line && end_line < start_line)
        throw new ToolError('end_line is before start_line');
      const { rel, text } = await readTextInside(root, file_path, options.max_file_bytes);
      const numbered = numberLines(text, start_line ?? 1, end_line);
      if ((start_line ?? 1) > numbered.total && numbered.total > 0) {
        throw new ToolError(`start_line ${start_line} is past the end of ${rel} (${numbered.total} lines)`);
      }
      const header = `${rel} (lines ${start_line ?? 1}-${numbered.last} of ${numbered.total})`;
      return textResult(
        capText(`${header}\n${numbered.text}`, cap, 'file; use start_line/end_line to read further; text'),
      );
    }),
  );

  server.registerTool(
    'list_directory',
    {
      description: 'List a directory of the project: sub-directories end in /, symbolic links in @.',
      inputSchema: {
        dir_path: z.string().optional().describe('relative to the project root; default the root'),
      },
      annotations: { readOnlyHint: true },
    },
    guarded('list_directory', async ({ dir_path }) => {
      const { real, rel } = await resolveInside(root, dir_path ?? '.', 'directory');
      const entries = await readDirInside(root, real);
      const names = entries
        .map((e) =>
          e.isDirectory()
            ? `${e.name}/`
            : e.isSymbolicLink()
              ? `${e.name}@`
              : e.isFile()
                ? e.name
                : undefined,
        )
        .filter((n): n is string => n !== undefined)
        .sort((a, b) => Number(b.endsWith('/')) - Number(a.endsWith('/')) || (a < b ? -1 : 1));
      const shown = names.slice(0, LIST_LIMIT);
      const more = names.length > LIST_LIMIT ? `\n[${names.length - LIST_LIMIT} more entries not shown]` : '';
      return textResult(`${rel === '' ? '.' : rel}/\n${shown.join('\n')}${more}`);
    }),
  );

  if (options.test_command) {
    const argv = options.test_command;
    server.registerTool(
      'run_tests',
      {
        description:
          `Run the project's configured test command (${argv.join(' ')}), optionally on one test path. ` +
          'Returns the exit status and the tail of the output (all of it, capped, when verbose).',
        inputSchema: {
          test_path: z.string().optional().describe('a test file or folder, relative to the project root'),
          verbose: z
            .boolean()
            .optional()
            .describe('return the whole (capped) output instead of its last lines'),
        },
      },
      guarded('run_tests', async ({ test_path, verbose }, extra) => {
        const extraArgs: string[] = [];
        if (test_path !== undefined) {
          const { rel } = await resolveInside(root, test_path);
          // A relative path starting with '-' would read as an option of the test runner.
          extraArgs.push(rel === '' ? '.' : rel.startsWith('-') ? `./${rel}` : rel);
        }
        const run = await runTestCommand(
          [...argv, ...extraArgs],
          root,
          options.test_timeout_ms,
          1024 * 1024,
          extra.signal,
        );
        const status = run.timedOut
          ? `timed out after ${options.test_timeout_ms} ms (process group killed)`
          : run.exitCode === 0
            ? 'passed (exit code 0)'
            : `failed (exit code ${run.exitCode ?? 'none'}${run.signal ? `, signal ${run.signal}` : ''})`;
        let output = run.output;
        if (!verbose) {
          const lines = output.split('\n');
          if (lines.length > 80)
            output = `[... ${lines.length - 80} earlier lines omitted; verbose shows more]\n${lines.slice(-80).join('\n')}`;
        }
        const body = `${[...argv, ...extraArgs].join(' ')}: ${status} in ${run.durationMs} ms\n${run.outputTruncated ? '[only the end of the output was kept]\n' : ''}${output}`;
        return textResult(capText(body, cap), {
          exit_code: run.exitCode,
          timed_out: run.timedOut,
          passed: run.exitCode === 0 && !run.timedOut,
        });
      }),
    );
  }

  registerProjectContext(server, root, options, name);
  return { server, close: () => server.close() };
}

export const project: BuiltinDefinition<ProjectOptions> = { optionsSchema: projectOptions, create };
