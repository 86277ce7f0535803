// The `endpoints:` block: named virtual endpoints, each a curated subset of the catalogue served at
// /mcp/<name> by globs on public tool and prompt names and on published URIs / URI templates.
import { z } from 'zod';

/** Endpoint names become a path segment: letters, digits, '-' and '_'. */
export const ENDPOINT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const globs = z.array(z.string().min(1)).min(1, 'an empty list shows nothing; leave the key out instead');

export const endpointSchema = z.strictObject({
  /** A kind left out is not served on the endpoint at all. */
  tools: globs.optional(),
  prompts: globs.optional(),
  resources: globs.optional(),
});

export const endpointsSchema = z.record(
  z.string().regex(ENDPOINT_NAME, 'endpoint names use letters, digits, - and _ (at most 64)'),
  endpointSchema,
);

export type EndpointOptions = z.output<typeof endpointSchema>;
export type EndpointsOptions = z.output<typeof endpointsSchema>;
