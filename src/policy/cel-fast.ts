// The hot path of a `when:`: a cel-js syntax tree of a small CEL subset compiled to a plain closure. It answers
// only where it is sure to give cel-js's own answer and says UNSURE elsewhere (a missing key, an odd type, what
// cel-js would call an error); the caller then runs cel-js itself, so errors and their messages stay cel-js's.

import { UNSURE, type Unsure } from './cel-fast-unsure.js';
import {
  isMap,
  isList,
  isScalar,
  isValue,
  field,
  sizeOf,
  sizeCount,
  equals,
  ordered,
  within,
  ORDER,
  TEXT,
} from './cel-fast-values.js';

export { UNSURE, type Unsure };

type Vars = Readonly<Record<string, unknown>>;
type Fast = (vars: Vars) => unknown;

interface Node {
  readonly op: string;
  readonly args: unknown;
}

// The variables as cel.ts declares them: cel-js checks a value against its declared type on every read.
const VARIABLES = new Map<string, 'map' | 'string'>([
  ['principal', 'map'],
  ['args', 'map'],
  ['method', 'string'],
  ['name', 'string'],
  ['upstream', 'string'],
]);

const isNode = (value: unknown): value is Node =>
  typeof value === 'object' && value !== null && typeof (value as Node).op === 'string' && 'args' in value;

/**
 * The closure for a `when:` tree, or undefined when the tree uses anything outside the subset (then cel-js
 * answers every call). The closure gives true or false only where cel-js gives that same value.
 */
export function compileFast(root: unknown): ((vars: Vars) => boolean | Unsure) | undefined {
  const fast = compile(root);
  if (!fast) return undefined;
  return (vars) => {
    if (typeof vars !== 'object' || vars === null) return UNSURE;
    const value = fast(vars);
    return typeof value === 'boolean' ? value : UNSURE;
  };
}

function compile(node: unknown): Fast | undefined {
  if (!isNode(node)) return undefined;
  const { op, args } = node;
  switch (op) {
    case 'value':
      return isScalar(args) ? () => args : undefined;
    case 'id':
      return variable(args);
    case '.': {
      const [left, key] = args as [unknown, unknown];
      const map = compile(left);
      return map && typeof key === 'string' ? (vars) => field(map(vars), key) : undefined;
    }
    case '[]':
      return binary(args, field);
    case 'call':
      return call(args);
    case 'rcall':
      return method(args);
    case '==':
      return binary(args, equals);
    case '!=':
      return binary(args, (a, b) => {
        const same = equals(a, b);
        return same === UNSURE ? UNSURE : !same;
      });
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const compare = ORDER[op];
      return (
        sizeAgainstInt(args, compare) ??
        binary(args, (a, b) => (ordered(a, b) ? compare(a as never, b as never) : UNSURE))
      );
    }
    case 'in':
      return binary(args, within);
    case '&&':
      return logical(args, false);
    case '||':
      return logical(args, true);
    case '!_':
      return unary(args, (value) => (typeof value === 'boolean' ? !value : UNSURE));
    case '-_':
      return unary(args, (value) =>
        typeof value === 'bigint' || typeof value === 'number' ? -value : UNSURE,
      );
    case '?:':
      return ternary(args);
    case 'list':
      return list(args);
    default:
      return undefined;
  }
}

function variable(name: unknown): Fast | undefined {
  const type = typeof name === 'string' ? VARIABLES.get(name) : undefined;
  if (type === undefined) return undefined;
  const key = name as string;
  const valid = type === 'map' ? isMap : (value: unknown) => typeof value === 'string';
  return (vars) => {
    const value = vars[key];
    return valid(value) ? value : UNSURE;
  };
}

function unary(args: unknown, apply: (value: unknown) => unknown): Fast | undefined {
  const operand = compile(args);
  return operand && ((vars) => apply(operand(vars)));
}

/** Both sides evaluated (as cel-js does), then `apply`, which sees UNSURE as just another odd value. */
function binary(args: unknown, apply: (a: unknown, b: unknown) => unknown): Fast | undefined {
  if (!Array.isArray(args) || args.length !== 2) return undefined;
  const left = compile(args[0]);
  const right = compile(args[1]);
  return left && right && ((vars) => apply(left(vars), right(vars)));
}

/**
 * `&&` (`||` with `absorbs` true): cel-js evaluates the left side catching its error, and the right side's
 * absorbing value wins over anything on the left; otherwise both must be booleans.
 */
function logical(args: unknown, absorbs: boolean): Fast | undefined {
  if (!Array.isArray(args) || args.length !== 2) return undefined;
  const left = compile(args[0]);
  const right = compile(args[1]);
  if (!left || !right) return undefined;
  return (vars) => {
    const a = left(vars);
    if (a === absorbs) return absorbs;
    const b = right(vars);
    if (b === absorbs) return absorbs;
    return a === !absorbs && b === !absorbs ? !absorbs : UNSURE;
  };
}

function ternary(args: unknown): Fast | undefined {
  if (!Array.isArray(args) || args.length !== 3) return undefined;
  const [condition, then, otherwise] = args.map(compile);
  if (!condition || !then || !otherwise) return undefined;
  return (vars) => {
    const chosen = condition(vars);
    if (chosen === true) return then(vars);
    return chosen === false ? otherwise(vars) : UNSURE;
  };
}

function list(args: unknown): Fast | undefined {
  if (!Array.isArray(args)) return undefined;
  const items = args.map(compile);
  if (!items.every((item) => item !== undefined)) return undefined;
  const elements = items as Fast[];
  return (vars) => {
    const values = new Array<unknown>(elements.length);
    for (let i = 0; i < elements.length; i++) {
      const value = elements[i](vars);
      if (value === UNSURE) return UNSURE;
      values[i] = value;
    }
    return values;
  };
}

/**
 * `size(x) > 100` (or `100 < x.size()`, any order): the common guard on an argument's length, counted and
 * compared as plain numbers, with no BigInt made per call (the bench G8 target's four such rules: ~450 ns a call
 * in a loop before, ~370 after). The same answer as the generic path: both are ints, exact below 2^53.
 */
function sizeAgainstInt(args: unknown, compare: (a: never, b: never) => boolean): Fast | undefined {
  if (!Array.isArray(args) || args.length !== 2) return undefined;
  const [left, right] = args as [unknown, unknown];
  const leftCounted = sizeOperand(left);
  const sizeFirst = leftCounted !== undefined;
  const counted = sizeFirst ? leftCounted : sizeOperand(right);
  const limit = intLiteral(sizeFirst ? right : left);
  if (counted === undefined || limit === undefined) return undefined;
  const operand = compile(counted);
  if (!operand) return undefined;
  return (vars) => {
    const count = sizeCount(operand(vars));
    if (count === UNSURE) return UNSURE;
    return sizeFirst ? compare(count as never, limit as never) : compare(limit as never, count as never);
  };
}

/** The `x` of `size(x)` or `x.size()`. */
function sizeOperand(node: unknown): unknown {
  if (!isNode(node) || !Array.isArray(node.args)) return undefined;
  const [name, first, second] = node.args as [unknown, unknown, unknown];
  if (name !== 'size') return undefined;
  if (node.op === 'call' && Array.isArray(first) && first.length === 1) return first[0];
  if (node.op === 'rcall' && Array.isArray(second) && second.length === 0) return first;
  return undefined;
}

/** An int literal that a double holds exactly, as a number. */
function intLiteral(node: unknown): number | undefined {
  if (!isNode(node) || node.op !== 'value' || typeof node.args !== 'bigint') return undefined;
  const value = Number(node.args);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** `has(a.b.c)` and `size(x)`; no other global function. */
function call(args: unknown): Fast | undefined {
  const [fn, params] = args as [unknown, unknown];
  if (!Array.isArray(params) || params.length !== 1) return undefined;
  if (fn === 'size') {
    const operand = compile(params[0]);
    return operand && ((vars) => sizeOf(operand(vars)));
  }
  return fn === 'has' ? presence(params[0]) : undefined;
}

/** `has(v.a.b)`: false when the last field is absent; an absent field before it is cel-js's error. */
function presence(selection: unknown): Fast | undefined {
  const keys: string[] = [];
  let node = selection;
  while (isNode(node) && node.op === '.') {
    const [left, key] = node.args as [unknown, unknown];
    if (typeof key !== 'string') return undefined;
    keys.unshift(key);
    node = left;
  }
  if (keys.length === 0 || !isNode(node) || node.op !== 'id') return undefined;
  const root = variable(node.args);
  if (!root) return undefined;
  const last = keys.length - 1;
  return (vars) => {
    let value = root(vars);
    for (let i = 0; i <= last; i++) {
      const key = keys[i];
      // cel-js finds no field in a scalar or a list (its lookup there gives nothing) rather than failing.
      if (isMap(value)) value = Object.hasOwn(value, key) ? value[key] : undefined;
      else if (isScalar(value) || isList(value)) value = undefined;
      else return UNSURE;
      if (value === undefined) return i === last ? false : UNSURE;
      if (!isValue(value)) return UNSURE;
    }
    return true;
  };
}

/** `x.size()` and the string tests `startsWith`, `endsWith`, `contains`. */
function method(args: unknown): Fast | undefined {
  const [name, receiverNode, params] = args as [unknown, unknown, unknown];
  if (!Array.isArray(params)) return undefined;
  const receiver = compile(receiverNode);
  if (!receiver) return undefined;
  if (name === 'size' && params.length === 0) return (vars) => sizeOf(receiver(vars));
  const test = typeof name === 'string' && Object.hasOwn(TEXT, name) ? TEXT[name] : undefined;
  if (!test || params.length !== 1) return undefined;
  const argument = compile(params[0]);
  return (
    argument &&
    ((vars) => {
      const text = receiver(vars);
      const part = argument(vars);
      return typeof text === 'string' && typeof part === 'string' ? test(text, part) : UNSURE;
    })
  );
}
