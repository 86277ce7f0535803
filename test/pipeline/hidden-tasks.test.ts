// A task created while its tool was visible, then the tool hidden: on every task path it is an unknown task,
// byte for byte like a task id that never existed, and tasks/list leaves it out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hidePolicy } from '../fixtures/policies/hide.js';
import { TSX } from '../helpers/gateway.js';
import {
  normalised,
  payload,
  RawSession,
  startPolicyGateway,
  WIRE_SERVER,
  type PolicyGateway,
} from './visibility-helpers.js';

describe('a task whose tool became hidden is an unknown task', () => {
  const hide = hidePolicy();
  let gw: PolicyGateway;
  beforeAll(async () => {
    const wire = { command: process.execPath, args: ['--import', TSX, WIRE_SERVER, '--tools', '["job"]'] };
    gw = await startPolicyGateway({ upstreams: { w: wire } }, [hide.policy]);
  });
  afterAll(() => gw?.close());

  it('on tasks/get, tasks/result, tasks/cancel and tasks/list', async () => {
    const eve = await RawSession.open(gw.url, 'eve');
    const created = await eve.request('tools/call', {
      name: 'w__job',
      arguments: { label: 'mine' },
      task: { ttl: 60_000 },
    });
    const taskId = payload(created).result?.task?.taskId;
    expect(taskId).toBe('task-1');
    // While the tool is visible the task is eve's: tasks/get and tasks/list reach it.
    expect(payload(await eve.request('tasks/get', { taskId })).result).toMatchObject({
      taskId,
      statusMessage: 'mine',
    });
    const listed = await eve.request('tasks/list', {});
    expect(payload(listed).result.tasks.map((t: { taskId: string }) => t.taskId)).toEqual([taskId]);

    hide.set('eve', { kind: 'tool', name: 'w__job' });
    for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) {
      const hidden = normalised(await eve.request(method, { taskId }), taskId);
      const absent = normalised(await eve.request(method, { taskId: 'task-none' }), 'task-none');
      expect(payload(absent).error, method).toBeDefined();
      expect(hidden, method).toEqual(absent);
    }
    // tasks/list: exactly what a session of eve's that never created a task gets.
    const fresh = await RawSession.open(gw.url, 'eve');
    expect(await eve.request('tasks/list', {})).toEqual(await fresh.request('tasks/list', {}));
    expect(payload(await fresh.request('tasks/list', {})).result).toEqual({ tasks: [] });
  });
});
