// The registry of Switchboard's built-in MCP servers: each is an options schema plus a factory of an SDK
// McpServer, run in-process by the gateway or alone over stdio (standalone.ts).
import { docs } from './docs/server.js';
import { project } from './project/server.js';
import { sql } from './sql/server.js';

export type { BuiltinContext, BuiltinDefinition, BuiltinInstance } from './definition.js';

export const builtinServers = { project, docs, sql };

export type BuiltinName = keyof typeof builtinServers;
