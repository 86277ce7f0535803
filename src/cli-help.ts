// The text of `switchboard --help` and `switchboard <command> --help`: what each command does and its options.
// Kept apart from cli.ts so the entry point stays a short dispatcher.
import { z } from 'zod';

const CONFIG_OPTION = '  --config FILE   the config file, YAML or JSON (default: config/gateway.yaml)';
const HELP_OPTION = '  -h, --help      show this help';

export const USAGE = `Usage: switchboard <command> [options]

Commands:
  serve   --config FILE [--host H] [--port P]   the gateway over Streamable HTTP at /mcp
  stdio   --config FILE                         the gateway over stdio (stdout carries only MCP)
  check   --config FILE                         validate the config, connect to every upstream, print a table
  check   --diff --config NEW --against FILE    what a reload of NEW changes in a gateway running FILE
  builtin <project|docs|sql> [options]          run one built-in server alone over stdio
  policy explain --config FILE --as k=v,... [METHOD NAME]
                                                what a principal sees, or the decision for one call
  pins    list|diff|approve --config FILE       tool-definition pins and quarantine
  audit   verify FILE... [--key-env NAME]       check the audit log's hash chain; names the first bad line

Options:
${CONFIG_OPTION}
${HELP_OPTION}
  -v, --version   show the version

Run \`switchboard <command> --help\` for a command's options. The config file may be ours (upstreams:),
Claude Desktop's, Cursor's or Windsurf's (mcpServers:) or VS Code's .vscode/mcp.json (servers:).
`;

export const COMMAND_HELP: Record<string, string> = {
  serve: `Usage: switchboard serve [--config FILE] [--host H] [--port P]

Serves the gateway over Streamable HTTP at http://HOST:PORT/mcp, with GET /healthz and GET /readyz.
Logs the address it really listens on. SIGTERM or SIGINT closes client sessions and stops stdio upstreams.

Options:
${CONFIG_OPTION}
  --host H        the address to listen on (default: listen.host from the config, else 127.0.0.1);
                  another host name must also be in http.allowedHosts
  --port P        the port (default: listen.port from the config, else 8080; 0 picks a free port)
${HELP_OPTION}
`,
  stdio: `Usage: switchboard stdio [--config FILE]

Serves the gateway over stdin/stdout for a host that starts a process (Claude Desktop, Cursor, ...).
stdout carries only MCP messages; logs go to stderr. Exits when stdin closes.

Options:
${CONFIG_OPTION}
${HELP_OPTION}
`,
  check: `Usage: switchboard check [--config FILE]
       switchboard check --diff --config NEW --against RUNNING

Validates the config, connects to every upstream and prints one row each: status, tool, prompt and
resource counts, and the error of an upstream that is down. With a policy: block, warns about globs
that match nothing and items no rule allows. Exits 0 when all are ready, 1 otherwise, 78 when the config
itself is invalid.

With --diff, connects to nothing: validates both files and prints what a reload of NEW (SIGHUP, or an
edit of the watched file) would change in a gateway running RUNNING, the file it last loaded: upstreams
added, removed or restarted, API keys added and removed (counts only), rules and endpoints changed, and
the keys that need a restart.

Options:
${CONFIG_OPTION}
  --diff          print what would change instead of connecting
  --against FILE  with --diff: the config the running gateway loaded
${HELP_OPTION}
`,
  policy: `Usage: switchboard policy explain [--config FILE] --as k=v,... [METHOD NAME] [--args JSON]

Starts the upstreams (as check does), then prints what the principal sees: every tool, prompt, resource,
template and upstream, + visible or - hidden, with the rule that decided. With METHOD NAME (tools/call,
prompts/get or resources/read and a public name or URI), prints the decision for that one call and every
rule that names it. Exits 0, or 1 when an upstream is not ready (its items are then missing).

Options:
${CONFIG_OPTION}
  --as k=v,...    the principal: subject=NAME (required), groups=G, scopes=S, client=ID, via=apiKey|jwt|
                  introspection|anonymous|stdio (default apiKey); repeat groups= or scopes= for more
  --args JSON     the call's arguments, for rules whose when: reads args (without it they show as
                  "depends on args")
${HELP_OPTION}
`,
  pins: `Usage: switchboard pins list [--config FILE]
       switchboard pins diff [NAME] [--config FILE]
       switchboard pins approve NAME | --upstream U --all [--config FILE]

Tool-definition pins, read from the store the config names (switchboard.pins.json beside the config file,
pins.file, or Redis when redis: is set); no upstream is started. The first time the gateway sees a tool it
pins its definition; a changed definition, a new tool under newTools: quarantine, or (with poisoning:
quarantine) a definition that looks poisoned is quarantined: hidden and unknown until approved.
  list      every pin: upstream, tool, public name, state, reason, hash, first seen
  diff      what changed, field by field (- pinned, + presented now), for NAME or every quarantined tool
  approve   publishes the tool as presented now (a running gateway picks it up within seconds);
            --upstream U --all approves every quarantined tool of upstream U
Exits 0 when done, 1 when nothing matched or the store cannot be read, 2 on bad usage.

Options:
${CONFIG_OPTION}
  --upstream U    with approve --all: the upstream whose quarantined tools to approve
  --all           with approve --upstream: every quarantined tool of it
${HELP_OPTION}
`,
  audit: `Usage: switchboard audit verify FILE... [--key-env NAME]

Checks the audit log (audit.file): every record's hash, and that each record's prev is the hash of the one
before it, across the files in the order given. One FILE alone stands for itself and its rotated siblings
(FILE.000001, FILE.000002, ..., oldest first, FILE last). Exits 0 with a summary, 1 naming the first bad line
as FILE:LINE and why (edited, missing or reordered, cut short, not a record), 2 on bad usage.

Options:
  --key-env NAME  the environment variable holding audit.hashKey, for a log chained by HMAC under it
${HELP_OPTION}
`,
};

/** `builtin --help` and `builtin <name> --help`: the flags come from each server's own options schema. */
export async function builtinHelp(name: string | undefined): Promise<string> {
  const { builtinServers } = await import('./builtin-servers/index.js');
  const names = Object.keys(builtinServers);
  const head = `Usage: switchboard builtin <${names.join('|')}> [--option value ...]

Runs one built-in server alone over stdio. Options are the server's config options in kebab-case
(test_command -> --test-command); see docs/builtin-servers.md.
`;
  if (!name || !Object.hasOwn(builtinServers, name)) return head;
  // The server's own schema says each option's type and default, so this text cannot drift from it.
  const schema = z.toJSONSchema(builtinServers[name as keyof typeof builtinServers].optionsSchema, {
    io: 'input',
    unrepresentable: 'any',
  }) as { properties?: Record<string, { type?: string; default?: unknown }>; required?: string[] };
  const flags = Object.entries(schema.properties ?? {}).map(([key, field]) => {
    const kind = field.type === 'array' ? "'COMMAND ARGS'" : (field.type ?? 'value').toUpperCase();
    const flag = `--${key.replace(/_/g, '-')} ${kind}`;
    const note = schema.required?.includes(key)
      ? 'required'
      : field.default === undefined
        ? ''
        : `default ${JSON.stringify(field.default)}`;
    return `  ${flag.padEnd(32)} ${note}`.trimEnd();
  });
  return `${head}\nOptions of ${name}:\n${flags.join('\n')}\n${HELP_OPTION}\n`;
}
