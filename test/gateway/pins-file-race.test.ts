// The pins file written by two hands: an approval (the CLI) that lands on disk before the gateway writes its own
// changes must still reach the gateway's next poll, though the gateway's write merged it in and renamed over it.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PinData, PinRecord } from '../../src/gateway/stores/pins-definition.js';
import { PinFile } from '../../src/gateway/stores/pins-file.js';
import { makeTempDir } from '../helpers/harness.js';

const record = (state: PinRecord['state'], updated: string, extra: Partial<PinRecord> = {}): PinRecord => ({
  state,
  hash: 'a'.repeat(64),
  definition: { name: 'notes' } as PinRecord['definition'],
  firstSeen: '2026-11-30T00:00:00.000Z',
  updated,
  ...extra,
});
const data = (tool: string, pin: PinRecord): PinData =>
  new Map([['rp', { firstSeen: pin.firstSeen, tools: new Map([[tool, pin]]) }]]);

describe('PinFile', () => {
  it('sees an approval written between its own load and its own save at the next poll', async () => {
    const file = path.join(makeTempDir('switchboard-pins-race-'), 'switchboard.pins.json');
    const gateway = new PinFile(file);
    const cli = new PinFile(file);
    await gateway.load();
    await gateway.save(
      data('notes', record('quarantined', '2026-11-30T00:00:01.000Z', { reason: 'poisoning' })),
    );
    expect(await gateway.changed()).toBe(false);
    // The CLI approves, then the gateway writes another tool's pin before its next poll.
    await cli.load();
    await cli.save(data('notes', record('pinned', '2026-11-30T00:00:02.000Z', { approved: 'a'.repeat(64) })));
    await gateway.save(data('weather', record('pinned', '2026-11-30T00:00:03.000Z')));
    expect(await gateway.changed()).toBe(true);
    const stored = await gateway.load();
    expect(stored.get('rp')?.tools.get('notes')?.state).toBe('pinned');
    expect(stored.get('rp')?.tools.get('weather')?.state).toBe('pinned');
    expect(await gateway.changed()).toBe(false);
  });
});
