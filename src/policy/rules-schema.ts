// The `policy:` block of the config: a default and named rules (who, what is allowed or denied, an optional
// CEL condition). Checked once at load, CEL included, so a typo stops start-up with the rule's name.
import { z } from 'zod';
import { compileWhen } from './cel.js';

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

const ruleSchema = z.strictObject({
  name: z.string().min(1),
  /** Absent: the rule is about everyone. */
  principals: principalsSchema.optional(),
  allow: itemsSchema.optional(),
  deny: itemsSchema.optional(),
  /** A CEL expression over principal, method, name, upstream and args; the rule applies only where it is true. */
  when: z.string().min(1).optional(),
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
      if (!rule.allow && !rule.deny)
        ctx.addIssue({ code: 'custom', path: at(), message: `rule "${rule.name}" needs allow or deny` });
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
