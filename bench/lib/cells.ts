// The cells of the benchmark table and how each is measured on one target.
import {
  runIdleMemory,
  runLoad,
  runSetup,
  type IdleResult,
  type LoadResult,
  type SetupResult,
} from './measure.js';
import type { JsonRpcAnswer } from './mcp-client.js';
import type { Target } from './measure.js';

export type Cell =
  | { id: string; kind: 'call'; tool: 'echo' | 'payload'; concurrency: number }
  | { id: string; kind: 'setup' }
  | { id: string; kind: 'idle' }
  | { id: string; kind: 'list'; concurrency: number; tools: number };

export type CellResult =
  | ({ kind: 'call' } & LoadResult)
  | ({ kind: 'list' } & LoadResult)
  | ({ kind: 'setup' } & SetupResult)
  | ({ kind: 'idle' } & IdleResult);

export interface Timing {
  warmupMs: number;
  durationMs: number;
  idleSessions: number;
}

export const ECHO_TEXT = 'e'.repeat(100);
const PAYLOAD_BYTES = 100 * 1024;

export const CALL_CELLS: Cell[] = [1, 10, 50].flatMap((concurrency) =>
  (['echo', 'payload'] as const).map((tool) => ({
    id: `${tool}-c${concurrency}`,
    kind: 'call' as const,
    tool,
    concurrency,
  })),
);
export const SETUP_CELL: Cell = { id: 'setup', kind: 'setup' };
export const IDLE_CELL: Cell = { id: 'idle', kind: 'idle' };
export const LIST_CELL: Cell = { id: 'list', kind: 'list', concurrency: 1, tools: 1000 };

function textOf(answer: JsonRpcAnswer): string | undefined {
  if (answer.error) return undefined;
  return answer.result?.content?.[0]?.text;
}

/** The check of a call cell's answers: no error, and the tool's text at its full length. */
export function checkCall(tool: 'echo' | 'payload') {
  return (answer: JsonRpcAnswer): string | undefined => {
    if (answer.error) return `JSON-RPC error ${answer.error.code}: ${answer.error.message}`;
    if (answer.result?.isError) return `tool error: ${JSON.stringify(answer.result.content).slice(0, 200)}`;
    const text = textOf(answer);
    const expected = tool === 'echo' ? ECHO_TEXT.length : PAYLOAD_BYTES;
    return text?.length === expected ? undefined : `${tool} returned ${text?.length ?? 'no'} characters`;
  };
}

export async function measureCell(cell: Cell, target: Target, timing: Timing): Promise<CellResult> {
  switch (cell.kind) {
    case 'call': {
      const args = cell.tool === 'echo' ? { text: ECHO_TEXT } : {};
      const result = await runLoad(target, {
        concurrency: cell.concurrency,
        method: 'tools/call',
        paramsJson: JSON.stringify({ name: target.tool(cell.tool), arguments: args }),
        warmupMs: timing.warmupMs,
        durationMs: timing.durationMs,
        check: checkCall(cell.tool),
      });
      return { kind: 'call', ...result };
    }
    case 'list': {
      const result = await runLoad(target, {
        concurrency: cell.concurrency,
        method: 'tools/list',
        paramsJson: '{}',
        warmupMs: timing.warmupMs,
        durationMs: timing.durationMs,
        check: (answer) => {
          if (answer.error) return `JSON-RPC error ${answer.error.code}: ${answer.error.message}`;
          const count = answer.result?.tools?.length ?? 0;
          if (answer.result?.nextCursor) return 'tools/list is paginated; the bench expects one page';
          return count === cell.tools
            ? undefined
            : `tools/list returned ${count} tools, expected ${cell.tools}`;
        },
      });
      return { kind: 'list', ...result };
    }
    case 'setup':
      return { kind: 'setup', ...(await runSetup(target, timing.durationMs, 2000)) };
    case 'idle':
      return { kind: 'idle', ...(await runIdleMemory(target, timing.idleSessions, 1000)) };
  }
}
