// The `guards:` config: tool -> argument -> guard, under an upstream's `tools:` (by its own tool names) and as a
// rule effect (by public-name globs). Checked at load, so a bad pattern, CIDR or host glob stops start-up there.
import ipaddr from 'ipaddr.js';
import { RE2JS } from 're2js';
import { z } from 'zod';

const nonEmpty = <T extends z.ZodType>(item: T) => z.array(item).min(1, 'an empty list allows nothing');

const pathGuardSchema = z.strictObject({
  /** The folders the value must resolve inside (absolute, or relative to the config file's folder). */
  roots: nonEmpty(z.string().min(1)),
  /** For tools that create files: a path that does not exist yet passes when its deepest existing folder is
   * inside a root. */
  allowMissing: z.boolean().default(false),
});

const sqlGuardSchema = z.strictObject({ dialect: z.enum(['sqlite', 'postgres']) });

const urlGuardSchema = z.strictObject({
  /** Allowed URL schemes, without the colon. */
  schemes: nonEmpty(z.string().regex(/^[a-z][a-z0-9+.-]*$/, 'a lower-case URL scheme without ":"')).default([
    'https',
  ]),
  /** Host name globs (`*` any run of characters, dots included); absent: any host with public addresses. */
  hosts: nonEmpty(z.string().regex(/^[a-z0-9*.[\]:-]+$/, 'a lower-case host name glob')).optional(),
  /** Address ranges (CIDR) the host may resolve into although they are not public (loopback, private, ...). */
  allowAddresses: nonEmpty(
    z.string().refine((cidr) => ipaddr.isValidCIDR(cidr), 'a CIDR range: 10.0.0.0/8, fd00::/8'),
  ).optional(),
});

export const argumentGuardSchema = z
  .strictObject({
    path: pathGuardSchema.optional(),
    sql: sqlGuardSchema.optional(),
    url: urlGuardSchema.optional(),
    /** The value must be one of these. */
    enum: nonEmpty(z.union([z.string(), z.number(), z.boolean()])).optional(),
    /** An RE2 expression the string must contain a match of (anchor it with ^...$ for a whole match). */
    pattern: z
      .string()
      .min(1)
      .superRefine((pattern, ctx) => {
        try {
          RE2JS.compile(pattern);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `not an RE2 expression: ${(error as Error).message}` });
        }
      })
      .optional(),
    /** The most characters (Unicode code points) a string may have. */
    maxLength: z.number().int().nonnegative().optional(),
    /** The most items a list argument may have (every other guard then applies to each item). */
    maxItems: z.number().int().nonnegative().optional(),
  })
  .refine((guard) => Object.values(guard).some((value) => value !== undefined), {
    message: 'a guard needs at least one of path, sql, url, enum, pattern, maxLength, maxItems',
  });

/** tool -> argument -> guard. */
export const guardsSchema = z.record(z.string().min(1), z.record(z.string().min(1), argumentGuardSchema));

export type ArgumentGuard = z.output<typeof argumentGuardSchema>;
export type ToolGuards = z.output<typeof guardsSchema>;
