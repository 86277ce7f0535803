// An upstream's `tools:` block: the catalogue filter (allow/deny by the upstream's own names) and curation,
// each keyed by the upstream's own tool name: a new public name, a new description, arguments hidden from the
// schema, and arguments the gateway sets itself (the client cannot override them).
import { z } from 'zod';
import { guardsSchema } from '../policy/guards/schema.js';

/** What a renamed tool may be called: the spec's tool-name characters, without a run of dots (which the
 * gateway rewrites in upstream names too); the prefix is still put in front. */
const TOOL_NAME = /^(?!.*\.\.)[A-Za-z0-9_.-]{1,128}$/;

export const toolsCurationSchema = z
  .strictObject({
    allow: z.array(z.string()).optional(),
    deny: z.array(z.string()).optional(),
    /** upstream name -> the name published after the prefix (`find_customer: lookup` gives `crm__lookup`). */
    rename: z
      .record(
        z.string().min(1),
        z.string().regex(TOOL_NAME, 'a tool name: 1-128 of A-Z a-z 0-9 _ - . (no "..")'),
      )
      .optional(),
    /** upstream name -> the description clients see instead of the upstream's. */
    describe: z.record(z.string().min(1), z.string().min(1)).optional(),
    /** upstream name -> arguments taken out of the input schema (and out of calls, should a client send them). */
    hideArgs: z.record(z.string().min(1), z.array(z.string().min(1)).min(1)).optional(),
    /** upstream name -> argument values the gateway sets on every call, over whatever the client sent. */
    fixArgs: z.record(z.string().min(1), z.record(z.string().min(1), z.unknown())).optional(),
    /** upstream name -> argument -> guard: typed checks on arguments before the call leaves the gateway. */
    guards: guardsSchema.optional(),
  })
  .superRefine((tools, ctx) => {
    const seen = new Map<string, string>();
    for (const [original, renamed] of Object.entries(tools.rename ?? {})) {
      const other = seen.get(renamed);
      if (other !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['rename', original],
          message: `"${original}" and "${other}" are both renamed to "${renamed}"`,
        });
      seen.set(renamed, original);
    }
  });

export type ToolsCuration = z.output<typeof toolsCurationSchema>;
