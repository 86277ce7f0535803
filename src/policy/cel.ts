// The `when:` of a policy rule: a CEL expression (@marcbachmann/cel-js) parsed and type-checked once, with what it
// reads (args? name? which principal fields?) taken from its syntax tree, so views and chains know what it needs.
// Evaluation tries the closure of cel-fast.ts first and runs cel-js where that closure is not sure.
import { Environment } from '@marcbachmann/cel-js';
import { compileFast, UNSURE } from './cel-fast.js';

/** The variables a `when:` sees. */
export interface WhenContext {
  readonly principal: object;
  readonly method: string;
  readonly name: string;
  readonly upstream: string;
  readonly args: object;
}

export type PrincipalField = 'subject' | 'groups' | 'scopes' | 'clientId' | 'via' | 'endpoint';
const PRINCIPAL_FIELDS = new Set<string>(['subject', 'groups', 'scopes', 'clientId', 'via', 'endpoint']);

/** What an expression reads: `principal` is the set of fields, or 'all' when it uses the principal whole. */
export interface WhenReads {
  readonly args: boolean;
  readonly name: boolean;
  readonly method: boolean;
  readonly upstream: boolean;
  readonly principal: ReadonlySet<PrincipalField> | 'all';
}

export interface CompiledWhen {
  readonly source: string;
  readonly reads: WhenReads;
  /** Whether the expression is in the subset cel-fast.ts compiles (cel-js then answers only where it is unsure). */
  readonly fast: boolean;
  /** True or false; throws the CEL error (a missing key, a type error) for the caller to decide closed. */
  evaluate(context: WhenContext): boolean;
}

// One environment for all rules: the five variables typed, so an unknown name or function fails at load.
const env = new Environment({ limits: { maxAstNodes: 2000, maxDepth: 64 } });
env.registerVariable('principal', 'map');
env.registerVariable('args', 'map');
env.registerVariable('method', 'string');
env.registerVariable('name', 'string');
env.registerVariable('upstream', 'string');

/**
 * Parses and type-checks; throws an Error whose message is the CEL error with its column. `fast: false` leaves
 * every evaluation to cel-js (the reference the fast path is tested against).
 */
export function compileWhen(source: string, options: { fast?: boolean } = {}): CompiledWhen {
  let parsed: ReturnType<typeof env.parse>;
  try {
    parsed = env.parse(source);
  } catch (error) {
    throw new Error(`CEL syntax error: ${celMessage(error)}`);
  }
  const checked = parsed.check();
  if (!checked.valid) throw new Error(`CEL error: ${celMessage(checked.error)}`);
  if (checked.type !== 'bool' && checked.type !== 'dyn')
    throw new Error(`CEL error: the expression must be true or false, it is ${checked.type}`);
  const reads = readsOf(parsed.ast);
  const fast = options.fast === false ? undefined : compileFast(parsed.ast);
  return {
    source,
    reads,
    fast: fast !== undefined,
    evaluate(context) {
      if (fast) {
        const answer = fast(context as unknown as Record<string, unknown>);
        if (answer !== UNSURE) return answer;
      }
      const value: unknown = parsed(context as unknown as Record<string, unknown>);
      if (typeof value !== 'boolean')
        throw new Error(`the expression gave ${typeof value}, not true or false`);
      return value;
    },
  };
}

/** The first line of a CEL error, with the column its caret points at. */
export function celMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const lines = text.split('\n');
  const source = lines.find((line) => line.startsWith('>'));
  const caret = lines.find((line) => /^\s*\^\s*$/.test(line));
  const bar = source?.indexOf(' | ') ?? -1;
  const column = caret && bar >= 0 ? caret.indexOf('^') - (bar + 3) + 1 : 0;
  return column > 0 ? `${lines[0]} (column ${column})` : lines[0];
}

interface Node {
  readonly op: string;
  readonly args: unknown;
}

const isNode = (value: unknown): value is Node =>
  typeof value === 'object' && value !== null && typeof (value as Node).op === 'string' && 'args' in value;

/**
 * Walks the tree for the five variables. Reading more than it says is safe (less caching, or a rule counted as
 * reading args); reading less would not be, so anything but `principal.<known field>` counts as the whole
 * principal, and a macro variable that shadows a name counts as that name.
 */
function readsOf(root: Node): WhenReads {
  let args = false;
  let name = false;
  let method = false;
  let upstream = false;
  let all = false;
  const fields = new Set<PrincipalField>();
  const visit = (value: unknown, parent?: Node): void => {
    if (Array.isArray(value)) return value.forEach((item) => visit(item, parent));
    if (!isNode(value)) return;
    if (value.op === 'id') {
      const id = value.args as string;
      if (id === 'args') args = true;
      else if (id === 'name') name = true;
      else if (id === 'method') method = true;
      else if (id === 'upstream') upstream = true;
      else if (id === 'principal') {
        const field = parent?.op === '.' ? (parent.args as [Node, string])[1] : undefined;
        if (field !== undefined && PRINCIPAL_FIELDS.has(field)) fields.add(field as PrincipalField);
        else all = true;
      }
      return;
    }
    visit(value.args, value);
  };
  visit(root);
  return { args, name, method, upstream, principal: all ? 'all' : fields };
}
