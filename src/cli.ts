#!/usr/bin/env node
// The switchboard command: parses arguments, then hands over to gateway/main.ts.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GatewayError } from './errors.js';

const USAGE = `Usage: switchboard <command> [options]

Commands:
  serve   --config FILE [--host H] [--port P]   the gateway over Streamable HTTP at /mcp
  stdio   --config FILE                         the gateway over stdio (stdout carries only MCP)
  check   --config FILE                         validate the config, connect to every upstream, print a table
  builtin <project|docs|sql> [options]          run one built-in server alone over stdio

Options:
  --config FILE   the config file (default: config/gateway.yaml)
  -h, --help      show this help
  -v, --version   show the version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (command === 'builtin') {
    const { runBuiltinStdio } = await import('./builtin-servers/standalone.js');
    await runBuiltinStdio(rest[0] ?? '', rest.slice(1));
    return 0;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', default: 'config/gateway.yaml' },
      host: { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const main = await import('./gateway/main.js');
  switch (command) {
    case 'serve': {
      const port = values.port === undefined ? undefined : Number(values.port);
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
        throw new GatewayError('config', `--port: expected a port number, got "${values.port}"`);
      }
      await main.serve(values.config!, { host: values.host, port });
      return -1;
    }
    case 'stdio':
      await main.stdio(values.config!);
      return 0;
    case 'check':
      return main.check(values.config!);
    default:
      process.stderr.write(`switchboard: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`switchboard: ${message}\n`);
    process.exit(error instanceof GatewayError && error.kind === 'config' ? 78 : 1);
  },
);
