#!/usr/bin/env node
// The switchboard command: parses arguments, then hands over to gateway/main.ts.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { builtinHelp, COMMAND_HELP, USAGE } from './cli-help.js';
import { GatewayError } from './errors.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Starts tracing (and the audit log's OTLP export) when the config sets `telemetry.otlp`; otherwise nothing of
 * OpenTelemetry is loaded. A bad config fails here with the error the gateway would give. */
async function startTelemetry(configFile: string): Promise<void> {
  const { loadConfig } = await import('./gateway/config.js');
  const { telemetry, audit } = loadConfig(configFile, process.env, { fromCommand: true });
  if (!telemetry?.otlp) return;
  const { startTracing } = await import('./gateway/telemetry/tracing.js');
  startTracing(telemetry, version());
  if (audit?.otlp) (await import('./gateway/audit/otlp.js')).startAuditExport(telemetry, version());
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
    if (!rest[0] || rest.some((arg) => arg === '--help' || arg === '-h')) {
      process.stdout.write(await builtinHelp(rest[0]?.startsWith('-') ? undefined : rest[0]));
      return rest[0] ? 0 : 2;
    }
    const { runBuiltinStdio } = await import('./builtin-servers/standalone.js');
    await runBuiltinStdio(rest[0] ?? '', rest.slice(1));
    return 0;
  }
  const help = COMMAND_HELP[command];
  if (help === undefined) {
    process.stderr.write(`switchboard: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  const options = {
    config: { type: 'string', default: 'config/gateway.yaml' },
    host: { type: 'string' },
    port: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    as: { type: 'string' },
    args: { type: 'string' },
    upstream: { type: 'string' },
    all: { type: 'boolean' },
    'key-env': { type: 'string' },
    diff: { type: 'boolean' },
    against: { type: 'string' },
  } as const;
  let values: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof options; strict: true }>
  >['values'];
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options,
      strict: true,
      allowPositionals: command === 'policy' || command === 'pins' || command === 'audit',
    }));
    // --host and --port mean something to serve only; elsewhere they would be silently ignored.
    const misplaced = command === 'serve' ? undefined : ['host', 'port'].find((k) => k in values);
    if (misplaced) throw new Error(`--${misplaced} applies to serve only`);
    const notPolicy = command === 'policy' ? undefined : ['as', 'args'].find((k) => k in values);
    if (notPolicy) throw new Error(`--${notPolicy} applies to policy explain only`);
    const notPins = command === 'pins' ? undefined : ['upstream', 'all'].find((k) => k in values);
    if (notPins) throw new Error(`--${notPins} applies to pins approve only`);
    if (command !== 'audit' && 'key-env' in values) throw new Error('--key-env applies to audit verify only');
    const notCheck = command === 'check' ? undefined : ['diff', 'against'].find((k) => k in values);
    if (notCheck) throw new Error(`--${notCheck} applies to check only`);
    if (command === 'check' && Boolean(values.diff) !== 'against' in values)
      throw new Error('--diff and --against RUNNING_CONFIG go together');
  } catch (error) {
    // parseArgs names the bad option; the command's own usage says what it takes.
    process.stderr.write(`switchboard ${command}: ${(error as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  // Tracing starts before the gateway's modules load, so whatever it instruments is there from their first use.
  if (command === 'serve' || command === 'stdio') await startTelemetry(values.config!);
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
      if (values.diff)
        return (await import('./gateway/reload-check.js')).checkDiff(values.config!, values.against!);
      return main.check(values.config!);
    case 'policy': {
      const { parsePrincipal } = await import('./policy/explain.js');
      let request: { principal: ReturnType<typeof parsePrincipal>; args?: object };
      try {
        if (positionals[0] !== 'explain') throw new Error('the one subcommand is explain');
        if (positionals.length !== 1 && positionals.length !== 3)
          throw new Error('give METHOD NAME, or neither');
        if (positionals[1] && !['tools/call', 'prompts/get', 'resources/read'].includes(positionals[1]))
          throw new Error('METHOD is tools/call, prompts/get or resources/read');
        if (values.as === undefined) throw new Error('--as subject=NAME[,groups=G,...] is required');
        const args: unknown = values.args === undefined ? undefined : JSON.parse(values.args);
        if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args)))
          throw new Error('--args must be a JSON object');
        request = { principal: parsePrincipal(values.as), args: args as object | undefined };
      } catch (error) {
        process.stderr.write(`switchboard policy: ${(error as Error).message}\n\n${help}`);
        return 2;
      }
      return main.policyExplain(values.config!, request.principal, positionals.slice(1), request.args);
    }
    case 'pins': {
      const [sub, name, ...extra] = positionals;
      const problem = !['list', 'diff', 'approve'].includes(sub)
        ? 'the subcommands are list, diff and approve'
        : extra.length || (sub === 'list' && name !== undefined)
          ? `too many arguments for pins ${sub}`
          : sub !== 'approve' && (values.upstream !== undefined || values.all)
            ? '--upstream and --all apply to pins approve only'
            : sub === 'approve' && (name === undefined) === (values.upstream === undefined || !values.all)
              ? 'approve takes a public tool name, or --upstream U --all (not both)'
              : undefined;
      if (problem) {
        process.stderr.write(`switchboard pins: ${problem}\n\n${help}`);
        return 2;
      }
      const { pinsCommand } = await import('./gateway/pins-cli.js');
      return pinsCommand(values.config!, { command: sub, name, upstream: values.upstream, all: values.all });
    }
    case 'audit': {
      const [sub, ...files] = positionals;
      const keyEnv = values['key-env'];
      const problem =
        sub !== 'verify'
          ? 'the one subcommand is verify'
          : files.length === 0
            ? 'give the audit file (or files, oldest first)'
            : keyEnv !== undefined && process.env[keyEnv] === undefined
              ? `--key-env: the environment variable ${keyEnv} is not set`
              : undefined;
      if (problem) {
        process.stderr.write(`switchboard audit: ${problem}\n\n${help}`);
        return 2;
      }
      const { auditVerifyCommand } = await import('./gateway/audit/verify.js');
      return auditVerifyCommand(files, keyEnv === undefined ? undefined : process.env[keyEnv]);
    }
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
