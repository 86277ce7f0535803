// Durations in the config (gateway and policy options alike): a number with a unit, turned into milliseconds.
import { z } from 'zod';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
/**
 * "60s", "500ms", "2m", "1h". A bare number is refused: `timeout: 30` once meant 30 ms, which nobody who
 * writes it means, so the unit is required and the message suggests one.
 */
export const duration = z
  .string({
    error: (issue) =>
      typeof issue.input === 'number'
        ? `a duration needs a unit: write ${issue.input}s for seconds or ${issue.input}ms for milliseconds`
        : 'expected a duration such as 500ms, 30s, 5m or 1h',
  })
  .regex(DURATION, 'expected a duration such as 500ms, 30s, 5m or 1h')
  .transform((text) => {
    const [, amount, unit] = DURATION.exec(text)!;
    const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
    return Math.round(Number(amount) * scale);
  });
