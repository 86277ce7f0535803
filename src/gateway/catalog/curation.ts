// Tool curation (an upstream's `tools:` rename/describe/hideArgs/fixArgs), compiled once at start-up: the
// published copy of a curated tool (made once per catalogue rebuild, never touching the upstream's cached item),
// the arguments a call sends upstream (hidden ones dropped, fixed ones set), and what is worth a warning.
import type { CatalogItem } from '../../upstreams/catalog.js';
import type { ToolsCuration } from '../config-curation.js';
import type { ArgsCuration, RouterUpstream } from './types.js';

export type { ArgsCuration };

/** Everything the `tools:` block says about one tool (by the upstream's own name). */
export interface ToolCuration {
  /** The name published after the prefix. */
  readonly rename?: string;
  readonly description?: string;
  /** Set only when the tool hides or fixes arguments: the call path pays nothing for other tools. */
  readonly args?: ArgsCuration;
}

/** By the upstream's own tool name: a Map, so a name like `constructor` from the wire finds nothing. */
export type ToolCurations = ReadonlyMap<string, ToolCuration>;

const SECTIONS = ['rename', 'describe', 'hideArgs', 'fixArgs'] as const;

/** Undefined when the block curates nothing (allow/deny alone, or no block). */
export function compileCuration(tools: ToolsCuration | undefined): ToolCurations | undefined {
  const names = new Set(SECTIONS.flatMap((section) => Object.keys(tools?.[section] ?? {})));
  if (!tools || names.size === 0) return undefined;
  const own = <T>(record: Record<string, T> | undefined, name: string): T | undefined =>
    record && Object.hasOwn(record, name) ? record[name] : undefined;
  const compiled = new Map<string, ToolCuration>();
  for (const name of names) {
    const hidden = own(tools.hideArgs, name) ?? [];
    const fixed = Object.entries(own(tools.fixArgs, name) ?? {});
    const drop = new Set([...hidden, ...fixed.map(([key]) => key)]);
    compiled.set(name, {
      rename: own(tools.rename, name),
      description: own(tools.describe, name),
      ...(drop.size > 0 && { args: { drop, fixed } }),
    });
  }
  return compiled;
}

/** The item clients see: published name, overriding description, and a schema without dropped arguments. */
export function curatedItem(
  item: CatalogItem,
  name: string,
  curation: ToolCuration | undefined,
): CatalogItem {
  if (!curation) return name === item.name ? item : { ...item, name };
  const copy: CatalogItem = { ...item, name };
  if (curation.description !== undefined) copy.description = curation.description;
  if (curation.args) copy.inputSchema = withoutArguments(item.inputSchema, curation.args.drop);
  return copy;
}

/**
 * The arguments sent upstream: the client's own, minus hidden and fixed keys, plus the fixed values (even when
 * the client sent none). A new object: the client's is never changed. With nothing fixed and no arguments sent,
 * still none.
 */
export function curatedArgs(
  args: Record<string, unknown> | undefined,
  curation: ArgsCuration,
): Record<string, unknown> | undefined {
  if (args === undefined && curation.fixed.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  if (args) for (const key of Object.keys(args)) if (!curation.drop.has(key)) setOwn(out, key, args[key]);
  for (const [key, value] of curation.fixed) setOwn(out, key, value);
  return out;
}

/**
 * What the curation of one ready upstream says that its tool list contradicts, as `path: text` lines: a tool it
 * does not list (or that its allow/deny leaves out), and arguments its schema does not declare, or requires but
 * that are hidden without a fixed value (calls will then likely fail upstream). An upstream that is not ready
 * has an empty list, which says nothing: no lines.
 */
export function curationProblems({ upstream, curation, filter }: RouterUpstream): string[] {
  if (!curation || upstream.state !== 'ready') return [];
  const byName = new Map(upstream.catalog.tools.map((item) => [item.name, item]));
  const problems: string[] = [];
  for (const section of SECTIONS) {
    for (const [name, value] of Object.entries(curation[section] ?? {})) {
      const path = `upstreams.${upstream.name}.tools.${section}.${name}`;
      const item = byName.get(name);
      if (!item) {
        problems.push(`${path}: upstream "${upstream.name}" lists no tool "${name}"`);
        continue;
      }
      if (filter.tools && !filter.tools(name)) {
        problems.push(`${path}: tool "${name}" is left out by tools.allow/deny, so this does nothing`);
        continue;
      }
      if (section !== 'hideArgs' && section !== 'fixArgs') continue;
      const args = section === 'hideArgs' ? (value as string[]) : Object.keys(value as object);
      const { properties, required } = schemaParts(item.inputSchema);
      const fixed = curation.fixArgs && Object.hasOwn(curation.fixArgs, name) ? curation.fixArgs[name] : {};
      for (const arg of args) {
        if (!properties.has(arg))
          problems.push(`${path}: the input schema of "${name}" declares no argument "${arg}"`);
        else if (section === 'hideArgs' && required.has(arg) && !Object.hasOwn(fixed, arg))
          problems.push(
            `${path}: "${arg}" is required by "${name}" and hidden without a value in fixArgs; calls will likely fail upstream`,
          );
      }
    }
  }
  return problems;
}

/** An item claiming a public name: which upstream, its own name, and whether a rename made the name. */
export interface Claim {
  readonly upstream: string;
  readonly own: string;
  readonly renamed: boolean;
}

/**
 * Why a second claim on a public name (`what`: `tool "crm__lookup"`) is a collision, naming both upstreams, or
 * both tools when a rename made one upstream claim a name twice; undefined for a verbatim duplicate in one
 * upstream's own list (the upstream's bug, which was never fatal).
 */
export function collisionMessage(what: string, first: Claim, second: Claim): string | undefined {
  const byWhom = (c: Claim) =>
    c.renamed ? `"${c.upstream}" (renamed from its "${c.own}")` : `"${c.upstream}"`;
  const its = (c: Claim) => `its "${c.own}"${c.renamed ? ' (renamed)' : ''}`;
  if (first.upstream !== second.upstream)
    return `${what} is published by both ${byWhom(first)} and ${byWhom(second)}`;
  if (first.own !== second.own)
    return `${what} is published twice by "${first.upstream}": by ${its(first)} and by ${its(second)}`;
  return undefined;
}

function schemaParts(schema: unknown): { properties: Set<string>; required: Set<string> } {
  const s = isObject(schema) ? schema : {};
  return {
    properties: new Set(isObject(s.properties) ? Object.keys(s.properties) : []),
    required: new Set(Array.isArray(s.required) ? s.required.filter((r) => typeof r === 'string') : []),
  };
}

/** A copy of a JSON Schema without some properties, in `properties` and in `required`. */
function withoutArguments(schema: unknown, drop: ReadonlySet<string>): unknown {
  if (!isObject(schema)) return schema;
  const copy: Record<string, unknown> = { ...schema };
  if (isObject(schema.properties)) {
    const properties: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(schema.properties))
      if (!drop.has(key)) setOwn(properties, key, value);
    copy.properties = properties;
  }
  if (Array.isArray(schema.required)) {
    const required = schema.required.filter((key) => !drop.has(key));
    // An empty `required` is invalid in older JSON Schema drafts: leave the key out instead.
    if (required.length) copy.required = required;
    else delete copy.required;
  }
  return copy;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets an own property, even one called `__proto__` (plain assignment would change the prototype instead). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
