// Keeps the SDK client's per-request maps young. V8 allocates a Map's rehashed table in old space once the Map's
// table is there (a full GC puts it there), and an obsolete table keeps the entries it held: each request's
// response handler (and all it holds) then survived young GCs and was promoted. Fresh copies every 50 ms avoid it.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';

/** The SDK 1.x Protocol's maps that gain and lose an entry per request; absent ones are skipped. */
const PER_REQUEST_MAPS = ['_responseHandlers', '_progressHandlers', '_timeoutInfo'];
const REFRESH_MS = 50;

const connected = new Set<Client>();
let timer: NodeJS.Timeout | undefined;

/** Refreshes the client's maps until it is closed (the SDK drops its transport then). */
export function keepMapsYoung(client: Client): void {
  connected.add(client);
  timer ??= setInterval(refresh, REFRESH_MS).unref();
}

/** Each map is replaced by a copy (new tables, allocated young): the SDK reads them through `this` each time. */
export function refresh(): void {
  for (const client of connected) {
    if (!client.transport) {
      connected.delete(client);
      continue;
    }
    const fields = client as unknown as Record<string, unknown>;
    for (const name of PER_REQUEST_MAPS) {
      const map = fields[name];
      if (map instanceof Map) fields[name] = new Map(map);
    }
  }
  if (connected.size === 0 && timer) {
    clearInterval(timer);
    timer = undefined;
  }
}
