// The `secrets:` option of an upstream and of a policy rule: what happens to a credential found in a call's
// arguments or in its result. One word for both directions, or each direction on its own.
import { z } from 'zod';

export const SECRETS_MODES = ['redact', 'block', 'off'] as const;
export type SecretsMode = (typeof SECRETS_MODES)[number];

const mode = z.enum(SECRETS_MODES);

export const secretsSchema = z.union([
  mode,
  z
    .strictObject({ args: mode.optional(), results: mode.optional() })
    .refine((o) => o.args !== undefined || o.results !== undefined, 'give args, results or both'),
]);

export type SecretsOption = z.output<typeof secretsSchema>;

/** Each direction's mode, where the option says one. */
export interface SecretsModes {
  readonly args?: SecretsMode;
  readonly results?: SecretsMode;
}

export function modesOf(option: SecretsOption): SecretsModes {
  return typeof option === 'string' ? { args: option, results: option } : option;
}

/**
 * With no `secrets:` on an upstream: results are redacted (a credential an upstream returns would otherwise reach
 * the model and its transcripts), arguments are passed as they are (the client holds them already, and only the
 * operator knows whether a tool needs one: a deploy token, a vault write).
 */
export const DEFAULT_MODES: Required<SecretsModes> = { args: 'off', results: 'redact' };
