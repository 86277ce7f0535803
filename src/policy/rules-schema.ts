// The `policy:` block of the config: a default and named rules (who, what is allowed or denied, an optional
// CEL condition). Checked once at load, CEL included, so a typo stops start-up with the rule's name.
import { z } from 'zod';
import { duration } from '../duration.js';
import { compileWhen } from './cel.js';
import { guardsSchema } from './guards/schema.js';
import { secretsSchema } from './secrets/schema.js';

const VIA = ['apiKey', 'jwt', 'introspection', 'anonymous', 'stdio'] as const;

/** A non-empty list: an empty one would match nobody, which is never what a rule means to say. */
const list = <T extends z.ZodType>(item: T) =>
  z.array(item).min(1, 'an empty list matches nothing; leave the key out to match everyone');

const principalsSchema = z.strictObject({
  /** Each list matches when the principal has any entry; `*` is a wildcard. All lists given must match. */
  subjects: list(z.string().min(1)).optional(),
  groups: list(z.string().min(1)).optional(),
  scopes: list(z.string().min(1)).optional(),
  /** OAuth client ids (`client_id` of a token). */
  clients: list(z.string().min(1)).optional(),
  via: list(z.enum(VIA)).optional(),
});

/** Globs (`*` any run of characters) on public tool and prompt names and on published URIs / URI templates. */
const itemsSchema = z.strictObject({
  tools: list(z.string().min(1)).optional(),
  prompts: list(z.string().min(1)).optional(),
  resources: list(z.string().min(1)).optional(),
});

/**
 * How often and how many at once a rule's principals may call the items its `allow` names: `calls` per `per`
 * window per principal (per principal and tool with `perTool`), `concurrent` calls in flight per principal and
 * upstream.
 */
const limitsSchema = z
  .strictObject({
    calls: z.number().int().positive().optional(),
    // Whole seconds: the shared counter (Redis) keeps its windows in seconds, and a window must mean the same
    // whether one gateway counts or many.
    per: duration
      .refine((ms) => ms >= 1000 && ms % 1000 === 0, 'per counts whole seconds, 1s at least: 30s, 1m, 1h')
      .optional(),
    perTool: z.boolean().default(false),
    concurrent: z.number().int().positive().optional(),
  })
  .superRefine((limits, ctx) => {
    if (limits.calls === undefined && limits.concurrent === undefined)
      ctx.addIssue({ code: 'custom', message: 'limits needs calls (with per) or concurrent' });
    if ((limits.calls === undefined) !== (limits.per === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [limits.calls === undefined ? 'per' : 'calls'],
        message: 'calls and per go together: calls: 60, per: 1m',
      });
  });

/**
 * Tools (globs on public names) whose every call a human approves first, asked through the calling client
 * (elicitation); `timeout` bounds the wait for the answer (2m when absent). It allows nothing by itself.
 */
const approveSchema = z.strictObject({
  tools: list(z.string().min(1)),
  timeout: duration
    .refine((ms) => ms > 0 && ms <= 3_600_000, 'an approval timeout is more than 0 and at most 1h')
    .optional(),
});

const ruleSchema = z.strictObject({
  name: z.string().min(1),
  /** Absent: the rule is about everyone. */
  principals: principalsSchema.optional(),
  allow: itemsSchema.optional(),
  deny: itemsSchema.optional(),
  /** A CEL expression over principal, method, name, upstream and args; the rule applies only where it is true. */
  when: z.string().min(1).optional(),
  /** Rate and concurrency limits on the calls to what this rule allows. */
  limits: limitsSchema.optional(),
  /** Calls that need a human's yes first; the rule's principals and `when:` say where. */
  approve: approveSchema.optional(),
  /** Public tool-name globs -> argument -> guard, for the rule's principals where its `when:` holds. */
  guards: guardsSchema.optional(),
  /** Credentials in the arguments or results of the calls this rule is about (its allow, or every item). */
  secrets: secretsSchema.optional(),
});

export const policySchema = z
  .strictObject({
    /** What happens to an item no rule allows or denies; there is no default of the default. */
    default: z.enum(['allow', 'deny']),
    rules: z.array(ruleSchema).default([]),
  })
  .superRefine((policy, ctx) => {
    const seen = new Set<string>();
    policy.rules.forEach((rule, i) => {
      const at = (key?: string) => ['rules', i, ...(key ? [key] : [])];
      if (seen.has(rule.name))
        ctx.addIssue({ code: 'custom', path: at('name'), message: `rule name "${rule.name}" is used twice` });
      seen.add(rule.name);
      if (!rule.allow && !rule.deny && !rule.approve && !rule.guards && !rule.secrets)
        ctx.addIssue({
          code: 'custom',
          path: at(),
          message: `rule "${rule.name}" needs allow, deny, approve, guards or secrets`,
        });
      if (rule.limits && !rule.allow)
        ctx.addIssue({
          code: 'custom',
          path: at('limits'),
          message: `rule "${rule.name}": limits count the calls to what the rule allows; give it allow`,
        });
      if (rule.when === undefined) return;
      try {
        const when = compileWhen(rule.when);
        // Arguments exist only on tools/call and prompts/get; a resource rule on them could never be decided.
        if (when.reads.args && (rule.allow?.resources || rule.deny?.resources))
          ctx.addIssue({
            code: 'custom',
            path: at('when'),
            message: `rule "${rule.name}": a when that reads args applies to tools and prompts only; put resources in another rule`,
          });
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          path: at('when'),
          message: `rule "${rule.name}": ${(error as Error).message}`,
        });
      }
    });
  });

export type PolicyOptions = z.output<typeof policySchema>;
export type RuleOptions = PolicyOptions['rules'][number];
export type ItemLists = z.output<typeof itemsSchema>;
export type LimitOptions = z.output<typeof limitsSchema>;
export type ApproveOptions = z.output<typeof approveSchema>;
