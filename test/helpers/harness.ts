// Per-test set-up with guaranteed tear-down: gateways, clients and anything else started in a test are
// closed after it, last first.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, startGateway, type RunningGateway } from './gateway.js';

export function useHarness() {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  return {
    defer(cleanup: () => unknown): void {
      cleanups.push(cleanup);
    },
    async gateway(
      raw: Record<string, unknown>,
      options?: Parameters<typeof startGateway>[1],
    ): Promise<RunningGateway> {
      const gw = await startGateway(raw, options);
      cleanups.push(gw.close);
      return gw;
    },
    async client(gw: RunningGateway, capabilities: ClientCapabilities = {}): Promise<Client> {
      const client = await connectClient(gw.url, capabilities);
      cleanups.push(() => client.close());
      return client;
    },
  };
}

/** Whether a process still runs (signal 0 checks without touching it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A new temporary folder, inside the run's own folder (test/helpers/global-temp.ts) that the run removes. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(path.join(process.env.SWITCHBOARD_TEST_TMP ?? tmpdir(), prefix));
}
