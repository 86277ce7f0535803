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

export const builtinServers = { project, docs, sql };

export type BuiltinName = keyof typeof builtinServers;
