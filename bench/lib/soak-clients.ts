// The soak's load: N real SDK Clients over Streamable HTTP, each calling `work` in a closed loop and choosing
// a fault for ~2% of calls per kind from a seeded generator, so every error is known to be asked for or not.
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { expectedText, type Fault } from '../../test/fixtures/servers/fault-server.js';

export interface LoadSettings {
  url: URL;
  clients: number;
  durationMs: number;
  /** Probability of each fault kind per call. */
  rate: number;
  faults: Fault[];
  seed: number;
  timeoutMs: number;
  hugeBytes: number;
  /** The upstream's maxResultBytes and maxLineBytes in the soak config; every third huge call passes each. */
  resultCapBytes: number;
  lineLimitBytes: number;
  floodCount: number;
  dripMs: number;
  toolName(client: number): string;
  lane(client: number): string;
}

/**
 * A fault as reported: huge calls come in three sizes (under the caps, over the result cap, over the line
 * limit); every other hang is cancelled by the client (notifications/cancelled) before the gateway times out.
 */
export type Label = Fault | 'huge>cap' | 'huge>line' | 'hang>cancel';
/** Faults that end the upstream connection they run on, so calls sharing it may fail too. */
const RESETS: ReadonlySet<Label> = new Set(['crash', 'huge>line']);

export interface FaultStats {
  calls: number;
  ok: number;
  errors: number;
  ms: number[];
  messages: Map<string, { count: number; example: string }>;
}

/** A call that failed or answered wrongly; kept one by one (they are few) for the collateral check. */
export interface Failure {
  fault: Label;
  lane: string;
  start: number;
  end: number;
  message: string;
  /** A success carrying the wrong text: never explained by a fault. */
  wrong: boolean;
}

/** From an injected crash on a lane until the first success there that started after the crash call ended. */
export interface Outage {
  lane: string;
  start: number;
  crashEnd: number;
  end: number;
}

export class Tally {
  readonly byFault = new Map<Label, FaultStats>();
  readonly failures: Failure[] = [];
  /** Closed outages by lane. */
  readonly outages = new Map<string, Outage[]>();
  readonly callsByMinute: number[] = [];
  sessionErrors: string[] = [];
  progressReceived = 0;
  /** Garbage calls so far, all clients: each one asks for the next lines of the fault server's list. */
  garbagePicks = 0;
  hugePicks = 0;
  crashPicks = 0;
  hangPicks = 0;
  private open = new Map<string, Outage>();
  private readonly t0 = performance.now();

  stats(fault: Label): FaultStats {
    let stats = this.byFault.get(fault);
    if (!stats) {
      stats = { calls: 0, ok: 0, errors: 0, ms: [], messages: new Map() };
      this.byFault.set(fault, stats);
    }
    return stats;
  }

  record(fault: Label, lane: string, start: number, end: number, error?: string, wrong = false): void {
    const stats = this.stats(fault);
    stats.calls++;
    stats.ms.push(end - start);
    const minute = Math.floor((end - this.t0) / 60_000);
    this.callsByMinute[minute] = (this.callsByMinute[minute] ?? 0) + 1;
    const outage = this.open.get(lane);
    if (RESETS.has(fault)) {
      if (outage) outage.crashEnd = Math.max(outage.crashEnd, end);
      else this.open.set(lane, { lane, start, crashEnd: end, end: Infinity });
    } else if (outage && error === undefined && start >= outage.crashEnd) {
      outage.end = end;
      this.closeOutage(outage);
      this.open.delete(lane);
    }
    if (error === undefined) {
      stats.ok++;
      return;
    }
    stats.errors++;
    const key = normalise(error);
    const group = stats.messages.get(key);
    if (group) group.count++;
    else stats.messages.set(key, { count: 1, example: error.slice(0, 300) });
    if (fault === 'none' || wrong) this.failures.push({ fault, lane, start, end, message: error, wrong });
  }

  /** Outages still open at the end of the run last until then. */
  closeOutages(): void {
    for (const outage of this.open.values()) this.closeOutage(outage);
    this.open.clear();
  }

  private closeOutage(outage: Outage): void {
    const list = this.outages.get(outage.lane);
    if (list) list.push(outage);
    else this.outages.set(outage.lane, [outage]);
  }
}

/** Groups messages that differ only in numbers, nonces and ids. */
export function normalise(message: string): string {
  return message
    .replace(/\d+-\d+/g, '<nonce>')
    .replace(/\d+/g, 'N')
    .slice(0, 200);
}

/** mulberry32: a tiny seeded generator, so a run's fault sequence per client is reproducible. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function openClient(url: URL, name: string): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' }, { capabilities: {} });
  await client.connect(new StreamableHTTPClientTransport(url));
  return client;
}

/** Ends the client's session with DELETE, so the gateway stops its per-session upstream at once. */
async function closeClient(client: Client): Promise<void> {
  const transport = client.transport as StreamableHTTPClientTransport | undefined;
  await transport?.terminateSession().catch(() => {});
  await client.close().catch(() => {});
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One call; returns undefined on the expected answer, else what went wrong. */
async function call(
  client: Client,
  settings: LoadSettings,
  tool: string,
  fault: Fault,
  nonce: string,
  tally: Tally,
): Promise<{ label: Label; error?: string; wrong?: boolean }> {
  let label: Label = fault;
  let size = 0;
  if (fault === 'huge') {
    const tier = tally.hugePicks++ % 3;
    label = tier === 0 ? 'huge' : tier === 1 ? 'huge>cap' : 'huge>line';
    // 64 KiB past each limit, so the JSON envelope's few bytes cannot decide the outcome.
    size =
      tier === 0
        ? settings.hugeBytes
        : (tier === 1 ? settings.resultCapBytes : settings.lineLimitBytes) + 65_536;
  }
  let signal: AbortSignal | undefined;
  if (fault === 'hang' && tally.hangPicks++ % 2 === 1) {
    label = 'hang>cancel';
    signal = AbortSignal.timeout(settings.timeoutMs / 2);
  }
  const pick = fault === 'garbage' ? tally.garbagePicks++ : fault === 'crash' ? tally.crashPicks++ : 0;
  const args = { fault, nonce, size, count: settings.floodCount, ms: settings.dripMs, pick };
  let result;
  try {
    result = await client.callTool({ name: tool, arguments: args }, undefined, {
      // The gateway's own timeout must end a hang; this one only catches a gateway that never answers.
      timeout: settings.timeoutMs + 10_000,
      onprogress: fault === 'flood' ? () => void tally.progressReceived++ : undefined,
      signal,
    });
  } catch (error) {
    return { label, error: describe(error) };
  }
  const content = result.content as { type: string; text?: string }[] | undefined;
  const text = content?.[0]?.type === 'text' ? (content[0].text ?? '') : '';
  if (result.isError) return { label, error: `isError result: ${text.slice(0, 200)}` };
  if (fault === 'huge') {
    const prefix = `huge:${nonce}:`;
    if (text.startsWith(prefix) && text.length === prefix.length + size) return { label };
  } else if (text === expectedText(fault, nonce, 0)) return { label };
  return {
    label,
    error: `wrong result: expected ${expectedText(fault, nonce, 0)}, got ${text.slice(0, 80)}`,
    wrong: true,
  };
}

async function runClient(index: number, settings: LoadSettings, tally: Tally, stop: () => boolean) {
  let client: Client;
  try {
    client = await openClient(settings.url, `soak-${index}`);
  } catch (error) {
    tally.sessionErrors.push(`client ${index}: ${describe(error)}`);
    return;
  }
  const random = generator(settings.seed * 1000 + index);
  const tool = settings.toolName(index);
  const lane = settings.lane(index);
  const deadline = performance.now() + settings.durationMs;
  for (let seq = 0; !stop() && performance.now() < deadline; seq++) {
    const pick = Math.floor(random() / settings.rate);
    const fault: Fault = pick < settings.faults.length ? settings.faults[pick] : 'none';
    const start = performance.now();
    const outcome = await call(client, settings, tool, fault, `${index}-${seq}`, tally);
    tally.record(outcome.label, lane, start, performance.now(), outcome.error, outcome.wrong);
  }
  await closeClient(client);
}

/** Runs every client until the duration passes or `stop()` turns true (the gateway died). */
export async function runLoad(settings: LoadSettings, stop: () => boolean): Promise<Tally> {
  const tally = new Tally();
  const clients = Array.from({ length: settings.clients }, (_, i) => runClient(i, settings, tally, stop));
  await Promise.all(clients);
  tally.closeOutages();
  return tally;
}

/** After the storm: a fresh client can still open a session and get a correct answer. */
export async function probe(url: URL, tool: string): Promise<string | undefined> {
  let client: Client | undefined;
  try {
    client = await openClient(url, 'soak-probe');
    const result = await client.callTool({ name: tool, arguments: { fault: 'none', nonce: 'probe' } });
    const content = result.content as { type: string; text?: string }[];
    return content?.[0]?.text === 'none:probe' ? undefined : `wrong answer: ${JSON.stringify(result)}`;
  } catch (error) {
    return describe(error);
  } finally {
    if (client) await closeClient(client);
  }
}
