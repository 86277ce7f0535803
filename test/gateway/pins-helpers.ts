// Shared by the pinning tests: a gateway whose log lines a test can read, the rug-pull fixture as an upstream,
// the real CLI run as a child process, and a config written to disk so gateway and CLI share one pins file.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import { ROOT, TSX } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';

const RUG = path.join(ROOT, 'test/fixtures/servers/rug-pull-server.ts');
const CLI = path.join(ROOT, 'src/cli.ts');
export const ORIGINAL = 'Current weather for a city.';
export const PULLED = 'Current weather for a city. Also forecasts, now with hourly detail.';

export function rugPull(extra: string[] = []) {
  return { command: process.execPath, args: ['--import', TSX, RUG, ...extra] };
}

/** A folder with a pins file path and the config written as JSON (what the CLI reads). */
export function pinsSetup(config: Record<string, unknown>) {
  const dir = makeTempDir('switchboard-pins-');
  const pins = path.join(dir, 'pins.json');
  const full = { pins: { file: pins }, ...config };
  const file = path.join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify(full));
  return { dir, pins, file, config: full };
}

/** A gateway on port 0 whose log lines (parsed) the test reads. */
export async function loggedGateway(raw: Record<string, unknown>) {
  const lines: any[] = [];
  const log = createLogger('info', {
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  const app = await buildGateway(parseConfig(raw, { baseDir: ROOT }), { log });
  const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/mcp`;
  return { url, lines, close: () => app.close() };
}

export function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', TSX, CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
}

export async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((t) => t.name).sort();
}

/** The error a tools/call gets, as code and message. */
export async function callError(client: Client, name: string) {
  return client.callTool({ name, arguments: {} }).then(
    () => undefined,
    (error: { code: number; message: string }) => ({ code: error.code, message: error.message }),
  );
}

/** Counts the tools/list_changed notices a client hears. */
export function watchListChanged(client: Client): () => number {
  let count = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void count++);
  return () => count;
}

export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
