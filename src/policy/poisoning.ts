// Tool-poisoning heuristics: what in a tool's definition (description, titles, schema descriptions, property
// names, annotations) speaks to the model rather than describing the tool: markup aimed at a model, "ignore
// previous instructions", references to other tools, invisible Unicode, long whitespace runs, instructions to
// exfiltrate or to keep something from the user. Pure; the catalogue decides what a finding costs.

export type FindingKind =
  | 'model-markup'
  | 'override'
  | 'tool-reference'
  | 'invisible-unicode'
  | 'whitespace-run'
  | 'exfiltration'
  | 'secrecy'
  | 'sensitive-file';

export interface PoisoningFinding {
  readonly kind: FindingKind;
  /** Where in the definition: `description`, `inputSchema.properties.path.description`, ... */
  readonly field: string;
  /** A short piece of the text around the match, with invisible and control characters escaped. */
  readonly excerpt: string;
}

/** The catalogue's tool names a definition must not mention: token -> the tool it stands for. */
export type ToolNames = ReadonlyMap<string, { readonly publicName: string; readonly upstream: string }>;

const PATTERNS: readonly [FindingKind, RegExp][] = [
  // Tags and chat-template tokens a model reads as a role or an emphasis, not as documentation.
  [
    'model-markup',
    /<\s*\/?\s*(important|system|instructions?|secret|hidden|admin|critical|prompt|assistant|context|sys)\b[^>]{0,40}>|\[\/?INST\]|<<\/?SYS>>|<\|[a-z_]{2,20}\|>/i,
  ],
  [
    'override',
    /\b(ignore|disregard|forget|override|bypass)\s+(all\s+|any\s+|every\s+)?(of\s+)?(the\s+|your\s+|my\s+)?(previous|prior|above|earlier|preceding|original|system|other)\s+(instructions?|prompts?|rules|directions|directives|guidelines|messages?|context)\b/i,
  ],
  ['override', /\b(new|updated|real)\s+(system\s+)?instructions\s*:/i],
  [
    'secrecy',
    /\b(do\s+not|don't|never|without)\s+(tell(ing)?|inform(ing)?|mention(ing)?|reveal(ing)?|notify(ing)?|alert(ing)?|let(ting)?)\b[^.\n]{0,40}\b(user|human|operator)s?\b/i,
  ],
  [
    'exfiltration',
    /\b(send|post|upload|forward|transmit|exfiltrate|e-?mail|leak|copy)\b[^.\n]{0,80}\b(to|into)\s+(https?:\/\/|[\w.+-]+@[\w-]+\.|the\s+(following\s+)?(url|address|endpoint|server|webhook))/i,
  ],
  [
    'exfiltration',
    /\b(include|pass|put)\b[^.\n]{0,60}\b(contents?|secrets?|keys?|tokens?|credentials?)\b[^.\n]{0,40}\b(in|as)\s+(the\s+)?(sidenote|note|argument|parameter)/i,
  ],
  [
    'sensitive-file',
    /~\/\.ssh|\bid_(rsa|ed25519|ecdsa)\b|\.aws\/credentials|\/etc\/(passwd|shadow)\b|\bmcp\.json\b|\.cursor\/|\.netrc\b/i,
  ],
];

/** Zero-width space and marks, bidi controls, word joiners, BOM, soft hyphen, Mongolian vowel separator, and
 * tag characters. */
const INVISIBLE =
  /[\u00AD\u180E\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]|[\u{E0000}-\u{E007F}]/u;
/** Zero-width (non-)joiners belong inside emoji sequences and some scripts; next to ASCII they only hide. */
const STRAY_JOINER = /(?<![^\x20-\x7E\s])[\u200C\u200D]|[\u200C\u200D](?![^\x20-\x7E\s])/u;
/** Far past any layout a description needs: text pushed out of a reviewer's sight. */
const WHITESPACE_RUN = /\s{48,}/;
const EXCERPT_SIDE = 30;

/** Findings for one tool definition; `catalogue` is every tool's names and the upstream this tool comes from
 * (naming a tool of the same server is ordinary documentation; naming another server's is how shadowing works). */
export function findPoisoning(
  definition: Record<string, unknown>,
  catalogue?: { names: ToolNames; upstream: string },
): PoisoningFinding[] {
  const findings: PoisoningFinding[] = [];
  for (const [field, text] of texts(definition)) {
    for (const [kind, pattern] of PATTERNS) {
      const match = pattern.exec(text);
      if (match) findings.push({ kind, field, excerpt: excerpt(text, match.index, match[0].length) });
    }
    const invisible = INVISIBLE.exec(text) ?? STRAY_JOINER.exec(text);
    if (invisible)
      findings.push({
        kind: 'invisible-unicode',
        field,
        excerpt: excerpt(text, invisible.index, invisible[0].length),
      });
    const run = WHITESPACE_RUN.exec(text);
    if (run)
      findings.push({
        kind: 'whitespace-run',
        field,
        excerpt: `${run[0].length} whitespace characters at ${run.index}`,
      });
    const named = catalogue && mentionedTool(text, catalogue.names, catalogue.upstream);
    if (named)
      findings.push({ kind: 'tool-reference', field, excerpt: excerpt(text, named.at, named.token.length) });
  }
  return findings;
}

/**
 * Names worth looking for: every other tool's public name, and its upstream-own name when it is distinctive
 * (a word like `search` or `echo` appears in ordinary prose; `send_email`, `getUser` or `fs.read` do not).
 */
export function toolNames(
  tools: readonly { publicName: string; ownName: string; upstream: string }[],
): ToolNames {
  const names = new Map<string, { publicName: string; upstream: string }>();
  for (const { publicName, upstream } of tools) names.set(publicName, { publicName, upstream });
  for (const { publicName, ownName, upstream } of tools)
    if (distinctive(ownName) && !names.has(ownName)) names.set(ownName, { publicName, upstream });
  return names;
}

function distinctive(name: string): boolean {
  return name.length >= 5 && (/[_.\-0-9]/.test(name) || /[a-z][A-Z]/.test(name));
}

const TOKEN = /[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]/g;

function mentionedTool(text: string, names: ToolNames, upstream: string) {
  for (const match of text.matchAll(TOKEN)) {
    const named = names.get(match[0]);
    if (named !== undefined && named.upstream !== upstream) return { token: match[0], at: match.index };
  }
  return undefined;
}

/** Every piece of text a model reads in a definition, with where it sits. */
function texts(definition: Record<string, unknown>): [string, string][] {
  const found: [string, string][] = [];
  for (const field of ['name', 'title', 'description'] as const)
    if (typeof definition[field] === 'string' && field !== 'name') found.push([field, definition[field]]);
  const annotations = definition.annotations;
  if (annotations && typeof annotations === 'object')
    for (const [key, value] of Object.entries(annotations))
      if (typeof value === 'string') found.push([`annotations.${key}`, value]);
  for (const schema of ['inputSchema', 'outputSchema'] as const)
    walkSchema(definition[schema], schema, found, 0);
  return found;
}

/** Descriptions, titles and property names anywhere in a JSON Schema (bounded depth: schemas can be cyclic-ish). */
function walkSchema(schema: unknown, at: string, found: [string, string][], depth: number): void {
  if (!schema || typeof schema !== 'object' || depth > 32) return;
  if (Array.isArray(schema)) {
    schema.forEach((item, i) => walkSchema(item, `${at}.${i}`, found, depth + 1));
    return;
  }
  const record = schema as Record<string, unknown>;
  for (const key of ['description', 'title'])
    if (typeof record[key] === 'string') found.push([`${at}.${key}`, record[key]]);
  const properties = record.properties;
  if (properties && typeof properties === 'object' && !Array.isArray(properties))
    for (const name of Object.keys(properties)) found.push([`${at}.properties (name)`, name]);
  for (const [key, value] of Object.entries(record))
    if (value && typeof value === 'object') walkSchema(value, `${at}.${key}`, found, depth + 1);
}

/** The match with a little context, every character outside printable ASCII escaped as \u{...}. */
function excerpt(text: string, at: number, length: number): string {
  const start = Math.max(0, at - EXCERPT_SIDE);
  const end = Math.min(text.length, at + length + EXCERPT_SIDE);
  const piece = text
    .slice(start, end)
    .replace(/[^\x20-\x7E]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
  return `${start > 0 ? '...' : ''}${piece}${end < text.length ? '...' : ''}`;
}
