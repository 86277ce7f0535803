// What a built-in server is: an options schema and a factory of an SDK McpServer. In its own file so the
// servers and the registry (index.ts) both import it without importing each other.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { z } from 'zod';

export interface BuiltinInstance {
  server: McpServer;
  close(): Promise<void>;
}

export interface BuiltinContext {
  /** Resolves relative paths (the config file's folder). */
  baseDir: string;
  /** A tool's name as clients see it (behind the gateway: prefixed); absent when standalone. */
  publicName?: (tool: string) => string;
}

export interface BuiltinDefinition<O> {
  /** zod object schema of the options, strict: unknown keys are rejected. */
  optionsSchema: z.ZodType<O>;
  create(options: O, ctx: BuiltinContext): Promise<BuiltinInstance>;
}
