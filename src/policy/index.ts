// The registry of policy kinds the config can name: each is one file with a zod schema of its options and a
// factory compiled at start-up into a Policy. Adding a kind is one file and one line here (see CONTRIBUTING.md).
import type { z } from 'zod';
import { createRulesPolicy } from './rules.js';
import { policySchema, type PolicyOptions } from './rules-schema.js';
import type { Policy } from './types.js';

export interface PolicyKind<O> {
  /** The options the config gives this kind, strict: unknown keys are rejected with their path. */
  readonly optionsSchema: z.ZodType<O>;
  /** Compiles the options once; a bad option throws here, so it stops start-up, never a request. */
  create(options: O): Policy;
}

/**
 * The kinds, by the name the config uses: `rules` is the top-level `policy:` block (the runtime builds it with
 * the upstreams' prefixes); tests drive the pipeline with policies of their own through `buildGateway`.
 */
export const policyKinds: ReadonlyMap<string, PolicyKind<unknown>> = new Map<string, PolicyKind<any>>([
  ['rules', { optionsSchema: policySchema, create: createRulesPolicy } as PolicyKind<PolicyOptions>],
]);

export { compileChain, composeVisibility, type Visibility } from './compose.js';
export type * from './types.js';
