// The bench's goals table gives a verdict only where its figure measured something: G6 from an RSS that did not
// grow is "not measured", not "met".
import { describe, expect, it } from 'vitest';
import { goalsTable, type Results } from '../../bench/lib/report.js';

const idle = (treeKbPerSession: number) =>
  ({
    kind: 'idle',
    sessions: 1000,
    rootKbPerSession: treeKbPerSession,
    treeKbPerSession,
  }) as unknown as Results[string][string][number];

function g6Row(kb: number): string | undefined {
  const table = goalsTable({ idle: { 'switchboard-stdio': [idle(kb)] } }, ['direct', 'switchboard-stdio']);
  return table.split('\n').find((row) => row.startsWith('| G6 '));
}

describe('the bench goals table on G6 (memory per idle session)', () => {
  it('meets the goal at up to 4 KB a session and not above', () => {
    expect(g6Row(2.5)).toMatch(/\| 2\.50 KB \| met \|$/);
    expect(g6Row(4.6)).toMatch(/\| 4\.60 KB \| NOT met \|$/);
  });

  it('gives no verdict when RSS did not grow with the sessions', () => {
    expect(g6Row(0)).toMatch(/\| 0\.00 KB \| not measured \|$/);
    expect(g6Row(-0.27)).toMatch(/\| -0\.27 KB \| not measured \|$/);
  });
});
