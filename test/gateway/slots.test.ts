// The slots that hold a session's (and a connection's) requests in flight: any sequence of adds and deletes holds
// exactly what a Set would, slots are reused, and a burst's slots go once it is over.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/gateway/session/slots.js';

describe('Slots', () => {
  it('holds what a Set holds, whatever the order of adds and deletes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(40)), { maxLength: 300 }), (steps) => {
        const slots = new Slots<{ id: number }>();
        const model = new Map<{ id: number }, number>();
        let next = 0;
        for (const [adding, pick] of steps) {
          if (adding || model.size === 0) {
            const item = { id: next++ };
            model.set(item, slots.add(item));
          } else {
            const [item, slot] = [...model][pick % model.size];
            slots.delete(slot);
            model.delete(item);
          }
          expect(slots.size).toBe(model.size);
        }
        expect(new Set(slots)).toEqual(new Set(model.keys()));
        expect([...slots.values()]).toHaveLength(model.size);
        for (const item of model.keys()) expect(slots.find((x) => x.id === item.id)).toBe(item);
        expect(slots.find((x) => x.id === next)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('reuses emptied slots before growing, and a second delete of a slot is ignored', () => {
    const slots = new Slots<string>();
    const [a, b, c] = ['a', 'b', 'c'].map((item) => slots.add(item));
    expect([a, b, c]).toEqual([0, 1, 2]);
    slots.delete(b);
    slots.delete(b);
    expect(slots.size).toBe(2);
    expect(slots.add('d')).toBe(b);
    expect([...slots]).toEqual(['a', 'd', 'c']);
  });

  it('starts from slot 0 again once a burst of more than 64 is over', () => {
    const slots = new Slots<number>();
    const held = Array.from({ length: 100 }, (_, i) => slots.add(i));
    expect(held.at(-1)).toBe(99);
    for (const slot of held) slots.delete(slot);
    expect(slots.size).toBe(0);
    expect([...slots]).toEqual([]);
    expect(slots.add(7)).toBe(0);
    expect(slots.add(8)).toBe(1);
  });
});
