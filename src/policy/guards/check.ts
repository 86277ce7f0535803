// One argument's guard compiled into a check: the value's type, then the cheap checks (maxItems, maxLength,
// enum, pattern), then the ones that ask the file system, a resolver or a SQL parser. A list value is checked
// item by item (maxItems counts the list itself). A check never throws: it fails closed, with a reason.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { RE2JS } from 're2js';
import { GatewayError } from '../../errors.js';
import { realInside, type PathProblem } from './safe-path.js';
import type { ArgumentGuard } from './schema.js';
import { loadGuard } from './sql.js';
import { compileUrlGuard, type Lookup } from './url.js';

/** Why a value was refused: the guard kind that refused it and what is wrong, never quoting the value. */
export interface Refusal {
  readonly kind: string;
  readonly reason: string;
}

/** Synchronous when the guard asks nothing outside the process (no path, url or sql): no promise per call. */
export type ArgumentCheck = (value: unknown) => Refusal | undefined | Promise<Refusal | undefined>;

export interface CheckDeps {
  /** Where relative roots are resolved: the config file's folder. */
  readonly baseDir: string;
  readonly lookup?: Lookup;
  readonly lookupTimeoutMs?: number;
}

const PATH_REASONS: Record<PathProblem, string> = {
  outside: 'is outside the allowed roots',
  'outside-via-link': 'is outside the allowed roots (through a symbolic link)',
  missing: 'does not exist',
  special: 'is a special file (FIFO, socket or device)',
  'dangling-link': 'is a symbolic link to nowhere',
  'missing-climbs': 'climbs with ".." out of a folder that does not exist',
};

const STRING_KINDS = ['path', 'sql', 'url', 'pattern', 'maxLength'] as const;

/**
 * A guard pattern as RE2 tests it, with the same answer: `test` asks whether a match starts anywhere, and so
 * does the pattern behind a lazy `(?s:.*?)`. It is not one-pass then, so re2js takes its DFA for it, about four
 * times faster than the one-pass matcher it picks for a pattern anchored with `^`.
 */
export function compileGuardPattern(pattern: string): RE2JS {
  RE2JS.compile(pattern); // a bad pattern fails with its own message, not the wrapped one's
  return RE2JS.compile(`(?s:.*?)(?:${pattern})`);
}

/** `where` names the guard in the config (`upstreams.files.tools.guards.read_file.path`) for start-up errors. */
export function compileArgumentCheck(guard: ArgumentGuard, where: string, deps: CheckDeps): ArgumentCheck {
  const refuse = (kind: string, reason: string): Refusal => ({ kind, reason });
  // The kinds that need a string; the first one given names a refusal for the wrong type.
  const firstKind = STRING_KINDS.find((kind) => guard[kind] !== undefined);
  const wantsString = firstKind !== undefined;
  const allowedValues = guard.enum && new Set<unknown>(guard.enum);
  const pattern = guard.pattern === undefined ? undefined : compileGuardPattern(guard.pattern);
  const roots = guard.path?.roots.map((root, i) => realRoot(root, `${where}.path.roots.${i}`, deps.baseDir));
  const url = guard.url && compileUrlGuard(guard.url, deps.lookup, deps.lookupTimeoutMs);
  const sql = guard.sql && loadSql(guard.sql.dialect);
  const perItem = wantsString || allowedValues !== undefined;
  const asks = roots !== undefined || url !== undefined || sql !== undefined;

  /** The checks that need nothing outside the process: type, enum, maxLength, pattern. */
  function cheap(value: unknown): Refusal | undefined {
    if (wantsString && typeof value !== 'string') return refuse(firstKind, 'must be a string');
    if (allowedValues && !allowedValues.has(value)) return refuse('enum', 'is not one of the allowed values');
    if (typeof value !== 'string') return undefined;
    if (
      guard.maxLength !== undefined &&
      value.length > guard.maxLength &&
      codePoints(value) > guard.maxLength
    )
      return refuse('maxLength', `is longer than ${guard.maxLength} characters`);
    if (pattern && !pattern.test(value)) return refuse('pattern', 'does not match the allowed pattern');
    return undefined;
  }

  /** The checks that ask the file system, a resolver or a SQL parser, for a string that passed the cheap ones. */
  async function asking(value: string): Promise<Refusal | undefined> {
    if (roots) {
      const problem = await checkPath(value, roots, guard.path!.allowMissing);
      if (problem) return refuse('path', problem);
    }
    if (url) {
      const problem = await url(value);
      if (problem) return refuse('url', problem);
    }
    if (sql) {
      const problem = await sql(value);
      if (problem) return refuse('sql', problem);
    }
    return undefined;
  }

  function one(value: unknown): Refusal | undefined | Promise<Refusal | undefined> {
    const refusal = cheap(value);
    if (refusal || !asks || typeof value !== 'string') return refusal;
    return asking(value);
  }

  // A check that fails to decide (a file system error, a parser crash) refuses: fail closed.
  const undecided = () => refuse(firstKind ?? 'enum', 'could not be checked');

  async function items(value: unknown[]): Promise<Refusal | undefined> {
    for (let i = 0; i < value.length; i++) {
      const refusal = await one(value[i]);
      if (refusal) return { kind: refusal.kind, reason: `item ${i} ${refusal.reason}` };
    }
    return undefined;
  }

  return (value) => {
    try {
      let answer: Refusal | undefined | Promise<Refusal | undefined>;
      if (!Array.isArray(value)) {
        if (guard.maxItems !== undefined) return refuse('maxItems', 'must be a list');
        answer = one(value);
      } else {
        if (guard.maxItems !== undefined && value.length > guard.maxItems)
          return refuse('maxItems', `has ${value.length} items, more than the ${guard.maxItems} allowed`);
        if (!perItem) return undefined;
        if (!asks) {
          for (let i = 0; i < value.length; i++) {
            const refusal = cheap(value[i]);
            if (refusal) return { kind: refusal.kind, reason: `item ${i} ${refusal.reason}` };
          }
          return undefined;
        }
        answer = items(value);
      }
      return answer instanceof Promise ? answer.catch(undecided) : answer;
    } catch {
      return undecided();
    }
  };
}

async function checkPath(value: string, roots: readonly string[], allowMissing: boolean) {
  if (value.includes('\0')) return 'contains a null byte';
  // Relative paths are refused: the gateway cannot know the folder the upstream resolves them against.
  if (!path.isAbsolute(value)) return 'must be an absolute path';
  const found = await realInside(roots, value, allowMissing);
  return typeof found === 'string' ? PATH_REASONS[found] : undefined;
}

/** A root's real path, at start-up: a root that does not exist stops it, naming the key. */
function realRoot(root: string, where: string, baseDir: string): string {
  const abs = path.resolve(baseDir, root);
  try {
    return realpathSync(abs);
  } catch {
    throw new GatewayError('config', `${where}: root ${abs} does not exist`);
  }
}

/** The dialect's parser loads in the background from start-up; a call that comes before it waits for it. */
function loadSql(dialect: 'sqlite' | 'postgres'): (query: string) => Promise<string | undefined> {
  const loading = loadGuard(dialect);
  loading.catch(() => {}); // a parser that fails to load refuses every call (below), never crashes the process
  const name = dialect === 'postgres' ? 'PostgreSQL' : 'SQLite';
  return async (query) => {
    const check = await loading.catch(() => undefined);
    if (!check) return `could not be checked: the ${name} parser did not load`;
    try {
      check(query);
      return undefined;
    } catch (error) {
      const message = (error as Error).message;
      // A parser's own message may quote the query: only the gist is shown.
      if (message.includes('does not parse')) return `does not parse as ${name}`;
      return `is not one read-only statement: ${message.slice(0, 200)}`;
    }
  };
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
