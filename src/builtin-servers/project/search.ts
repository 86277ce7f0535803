// search_codebase: regular-expression search over the non-ignored files of the root with RE2 semantics
// (re2js matches in linear time, so no pattern can hang the process), bounded in results, bytes and time.
import ignore from 'ignore';
import { RE2JS } from 're2js';
import { looksBinary, readCapped } from '../../policy/guards/safe-path.js';
import { ToolError } from '../results.js';
import { walk } from './walk.js';

export const SEARCH_LIMITS = {
  maxPatternLength: 1000,
  maxFileBytes: 1024 * 1024, // larger files are skipped (say so in the footer)
  maxLineChars: 300, // each hit's text is cut to this
  deadlineMs: 10_000,
  maxFiles: 50_000,
};

export async function searchCodebase(
  root: string,
  pattern: string,
  fileGlob: string | undefined,
  maxResults: number,
): Promise<{ text: string; matches: number; truncated: boolean }> {
  if (pattern.length > SEARCH_LIMITS.maxPatternLength) {
    throw new ToolError(`pattern is longer than ${SEARCH_LIMITS.maxPatternLength} characters`);
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    throw new ToolError(`invalid regular expression (RE2 syntax): ${(err as Error).message}`);
  }
  // file_glob uses gitignore pattern semantics: `*.ts` matches at any depth, `src/**/*.ts` under src.
  const globs = fileGlob ? ignore().add(fileGlob) : undefined;
  const deadline = Date.now() + SEARCH_LIMITS.deadlineMs;
  const lines: string[] = [];
  let skippedLarge = 0;
  let cut: string | undefined;
  outer: for await (const entry of walk(root, '', { maxEntries: SEARCH_LIMITS.maxFiles })) {
    if (globs && !globs.ignores(entry.rel)) continue;
    if (Date.now() > deadline) {
      cut = `search stopped after ${SEARCH_LIMITS.deadlineMs} ms`;
      break;
    }
    const { text, truncated } = await readCapped(root, entry.abs, SEARCH_LIMITS.maxFileBytes).catch(() => ({
      text: '',
      truncated: false,
    }));
    if (truncated) {
      skippedLarge++;
      continue;
    }
    if (looksBinary(text)) continue;
    const fileLines = text.split(/\r?\n/);
    for (let i = 0; i < fileLines.length; i++) {
      if (!re.test(fileLines[i])) continue;
      if (lines.length >= maxResults) {
        cut = `results cut at ${maxResults} matches; narrow the pattern or file_glob, or raise max_results`;
        break outer;
      }
      const line =
        fileLines[i].length > SEARCH_LIMITS.maxLineChars
          ? `${fileLines[i].slice(0, SEARCH_LIMITS.maxLineChars)}…`
          : fileLines[i];
      lines.push(`${entry.rel}:${i + 1}: ${line}`);
    }
  }
  const notes: string[] = [];
  if (lines.length === 0)
    notes.push(`no matches for /${pattern}/${fileGlob ? ` in files matching ${fileGlob}` : ''}`);
  if (cut) notes.push(`[${cut}]`);
  if (skippedLarge)
    notes.push(`[${skippedLarge} file(s) over ${SEARCH_LIMITS.maxFileBytes} bytes were not searched]`);
  return { text: [...lines, ...notes].join('\n'), matches: lines.length, truncated: cut !== undefined };
}
