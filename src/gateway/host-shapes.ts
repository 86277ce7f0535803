// The config shapes MCP hosts already have, turned into ours before validation: Claude Desktop and Cursor
// (`mcpServers:`), VS Code (`servers:` + `inputs:`), Windsurf (`serverUrl`, `disabled`), and env files.
import { readFileSync } from 'node:fs';
import path from 'node:path';

type Fail = (message: string) => Error;

/** Top-level keys that name the upstreams, ours first; a file gives exactly one of them. */
const UPSTREAM_KEYS = ['upstreams', 'mcpServers', 'servers'] as const;

/** Which of upstreams/mcpServers/servers the file uses (messages then name that key, as the user wrote it). */
export function upstreamsKeyOf(top: Record<string, unknown>, fail: Fail): string {
  const given = UPSTREAM_KEYS.filter((key) => key in top);
  if (given.length > 1) throw fail(`${given[1]}: give either ${given[0]} or ${given[1]}, not both`);
  return given[0] ?? 'upstreams';
}

/** Renames the host's top-level key and per-entry aliases to ours, in place (on a copy the caller owns). */
export function normalizeHostShape(top: Record<string, unknown>, key: string, fail: Fail): void {
  if (key !== 'upstreams') {
    top.upstreams = top[key];
    delete top[key];
    // VS Code's prompted inputs have no meaning here; a reference to one is refused where it is used.
    delete top.inputs;
  }
  const upstreams = top.upstreams;
  if (!upstreams || typeof upstreams !== 'object' || Array.isArray(upstreams)) return;
  const renamed: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(upstreams)) {
    renamed[name] = entry && typeof entry === 'object' ? normalizeEntry(name, { ...entry }, fail) : entry;
  }
  top.upstreams = renamed;
}

function normalizeEntry(name: string, entry: Record<string, unknown>, fail: Fail) {
  // Windsurf calls a remote server's address `serverUrl`.
  if ('serverUrl' in entry) {
    if ('url' in entry) throw fail(`upstreams.${name}.serverUrl: give either url or serverUrl, not both`);
    entry.url = entry.serverUrl;
    delete entry.serverUrl;
  }
  // Windsurf and Cline write `disabled: true`; ours is `enabled: false`.
  if ('disabled' in entry) {
    if ('enabled' in entry)
      throw fail(`upstreams.${name}.disabled: give either enabled or disabled, not both`);
    if (typeof entry.disabled !== 'boolean') {
      throw fail(`upstreams.${name}.disabled: expected boolean, got ${typeof entry.disabled}`);
    }
    entry.enabled = !entry.disabled;
    delete entry.disabled;
  }
  return entry;
}

/**
 * The folder `${workspaceFolder}` means: VS Code and Cursor keep their file in `.vscode/` or `.cursor/`
 * inside the workspace, so there it is the parent folder; elsewhere the config file's own folder.
 */
export function workspaceFolder(baseDir: string): string {
  const folder = path.basename(baseDir);
  return folder === '.vscode' || folder === '.cursor' ? path.dirname(baseDir) : baseDir;
}

/** Reads a dotenv file: `KEY=value` lines, `export ` allowed, `#` comments, optional quotes. */
export function readEnvFile(file: string, at: string, fail: Fail): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw fail(`${at}: cannot read the env file ${file} (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  const values: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw fail(`${at}: ${file} line ${i + 1} is not KEY=value`);
    let value = match[2];
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\"/g, '"');
    } else {
      value = value.replace(/\s+#.*$/, '');
    }
    values[match[1]] = value;
  }
  return values;
}

/**
 * VS Code's mcp.json is JSON with comments and trailing commas (JSONC). Blanks out `//` and `/* *\/`
 * comments and trailing commas outside strings, keeping every newline so JSON.parse's positions still
 * point at the right line.
 */
export function stripJsonComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      const start = i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      out += text.slice(start, ++i);
    } else if (ch === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (ch === ',' && /^(?:\s|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*[}\]]/.test(text.slice(i + 1))) {
      out += ' ';
      i++;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}
