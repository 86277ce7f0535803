// Runs one built-in server alone over stdio (`switchboard builtin <name> --root DIR ...`): flags become
// options validated by the server's schema; stdout carries only MCP, diagnostics go to stderr.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { builtinServers, type BuiltinName } from './index.js';

/** Splits a command line the way a shell would for plain words, single and double quotes. */
export function splitCommand(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch === '\\' && i + 1 < text.length ? text[++i] : ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in ${JSON.stringify(text)}`);
  if (inWord) out.push(current);
  return out;
}

/** `--some-flag VALUE` / `--some-flag=VALUE` -> { some_flag: value }; numbers, true/false and the test command converted. */
export function parseFlags(name: string, argv: string[]): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--') || arg === '--')
      throw new Error(
        `builtin ${name}: unexpected argument ${JSON.stringify(arg)} (flags look like --root DIR)`,
      );
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq === -1 ? undefined : eq);
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) value = argv[++i];
    else throw new Error(`builtin ${name}: flag --${flag} needs a value`);
    const key = flag.replace(/-/g, '_');
    if (key in options) throw new Error(`builtin ${name}: flag --${flag} given twice`);
    options[key] =
      key === 'test_command'
        ? splitCommand(value)
        : key === 'root' || key === 'url'
          ? value
          : /^\d+$/.test(value)
            ? Number(value)
            : value === 'true' || value === 'false'
              ? value === 'true'
              : value;
  }
  return options;
}

export async function runBuiltinStdio(name: string, argv: string[]): Promise<void> {
  if (!Object.hasOwn(builtinServers, name)) {
    throw new Error(
      `unknown built-in server ${JSON.stringify(name)}; choose one of ${Object.keys(builtinServers).join(', ')}`,
    );
  }
  const definition = builtinServers[name as BuiltinName];
  const parsed = definition.optionsSchema.safeParse(parseFlags(name, argv));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path.join('.');
      const flag = key ? `--${key.split('.')[0].replace(/_/g, '-')}` : '';
      return issue.code === 'unrecognized_keys'
        ? `unknown flag(s) ${issue.keys.map((k) => `--${k.replace(/_/g, '-')}`).join(', ')}`
        : `${flag}: ${issue.message}`;
    });
    throw new Error(`builtin ${name}: ${problems.join('; ')}`);
  }
  const instance = await (
    definition.create as (o: unknown, c: { baseDir: string }) => ReturnType<typeof definition.create>
  )(parsed.data, { baseDir: process.cwd() });
  const transport = new StdioServerTransport();
  let closing = false;
  const shutdown = async () => {
    // Closing the server closes the transport, whose onclose lands here again: once is enough.
    if (closing) return;
    closing = true;
    await instance
      .close()
      .catch((err) => process.stderr.write(`switchboard builtin ${name}: close failed: ${String(err)}\n`));
    process.exit(0);
  };
  transport.onclose = () => void shutdown();
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
  process.stdin.once('end', () => void shutdown());
  await instance.server.connect(transport);
  process.stderr.write(`switchboard builtin ${name}: serving over stdio\n`);
}
