// Config: every file in fixtures/configs/valid parses; every file in invalid fails with the message in its
// first line (`# expect: ...`), naming the path of the bad key.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/gateway/config.js';
import { ROOT } from '../helpers/gateway.js';

const dir = path.join(ROOT, 'test/fixtures/configs');
const env = { ...process.env, TEST_TOKEN: 'secret-token' };

describe('config files', () => {
  for (const file of readdirSync(path.join(dir, 'valid'))) {
    it(`accepts valid/${file}`, () => {
      expect(() => loadConfig(path.join(dir, 'valid', file), env)).not.toThrow();
    });
  }
  for (const file of readdirSync(path.join(dir, 'invalid'))) {
    const text = readFileSync(path.join(dir, 'invalid', file), 'utf8');
    const expected = /^(?:#|\/\/) expect: (.*)$/m.exec(text)![1];
    it(`rejects invalid/${file} with "${expected}"`, () => {
      const full = path.join(dir, 'invalid', file);
      let error: unknown;
      try {
        loadConfig(full, env);
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ kind: 'config' });
      // The whole message, exactly; an expectation ending in "…" fixes only its start.
      const message = (error as Error).message;
      if (expected.endsWith('…')) expect(message.startsWith(`${full}: ${expected.slice(0, -1)}`)).toBe(true);
      else expect(message).toBe(`${full}: ${expected}`);
    });
  }
});

describe('config values', () => {
  it('expands ${VAR} from the environment and fills defaults', () => {
    const config = loadConfig(path.join(dir, 'valid/full.yaml'), env);
    expect(config.upstreams.github).toMatchObject({ headers: { Authorization: 'Bearer secret-token' } });
    expect(config.upstreams.files).toMatchObject({
      scope: 'session',
      timeout: 90_000,
      tools: { deny: ['write_file'] },
    });
    expect(config.defaults.timeout).toBe(30_000);
    expect(config.sessions.idleTimeout).toBe(600_000);
    expect(Object.isFrozen(config.upstreams.github)).toBe(true);
  });

  it('accepts the Claude Desktop mcpServers shape as upstreams', () => {
    const config = loadConfig(path.join(dir, 'valid/claude-desktop.json'), env);
    expect(Object.keys(config.upstreams)).toEqual(['everything', 'remote']);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.namespace.separator).toBe('__');
  });

  it('says which file cannot be read', () => {
    expect(() => loadConfig('/nonexistent/gateway.yaml')).toThrow(
      '/nonexistent/gateway.yaml: cannot read the config file',
    );
  });
});

describe('config/gateway.schema.json', () => {
  it('is generated from the current zod schema (run `npm run schema` after changing it)', async () => {
    const { configJsonSchema } = await import('../../scripts/config-schema.js');
    expect(readFileSync(path.join(ROOT, 'config/gateway.schema.json'), 'utf8')).toBe(configJsonSchema());
  });
});
