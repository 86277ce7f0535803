// Writes config/gateway.schema.json (for editors) from the zod config schema: `npm run schema`.
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { configSchema } from '../src/gateway/config.js';

export function configJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
  return JSON.stringify({ title: 'Switchboard gateway config', ...schema }, null, 2) + '\n';
}

if (process.argv[1]?.endsWith('config-schema.ts')) {
  writeFileSync(new URL('../config/gateway.schema.json', import.meta.url), configJsonSchema());
  process.stdout.write('wrote config/gateway.schema.json\n');
}
