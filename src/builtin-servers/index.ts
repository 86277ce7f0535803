// The registry of Switchboard's built-in MCP servers: each is an options schema plus a factory of an SDK
// McpServer, run in-process by the gateway or alone over stdio (standalone.ts).
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { z } from 'zod';
import { docs } from './docs/server.js';
import { project } from './project/server.js';
import { sql } from './sql/server.js';

export interface BuiltinInstance {
  server: McpServer;
  close(): Promise<void>;
}

export interface BuiltinDefinition<O> {
  /** zod object schema of the options, strict: unknown keys are rejected. */
  optionsSchema: z.ZodType<O>;
  /** baseDir resolves relative paths (the config file's folder). */
  create(options: O, ctx: { baseDir: string }): Promise<BuiltinInstance>;
}

export const builtinServers = { project, docs, sql };

export type BuiltinName = keyof typeof builtinServers;
