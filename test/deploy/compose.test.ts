// deploy/compose.yaml and the haproxy config it mounts, validated by the real tools (docker-compose config,
// haproxy -c), and the gateway config files under deploy/ checked against the gateway's own schema.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { runTool } from './tools.js';

const KEY = 'deploy-test-key-0123456789abcdef';
const compose = (env: NodeJS.ProcessEnv) =>
  runTool('docker-compose', ['-f', 'deploy/compose.yaml', 'config'], env);

describe('deploy/compose.yaml', () => {
  it('is valid for docker-compose: two gateway replicas behind haproxy, with Redis', () => {
    const result = compose({ ...process.env, SWITCHBOARD_API_KEY: KEY });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const config = parse(result.stdout) as {
      services: Record<string, { deploy?: { replicas?: number }; image?: string; volumes?: string[] }>;
    };
    expect(Object.keys(config.services).sort()).toEqual(['gateway', 'lb', 'redis']);
    expect(config.services.gateway.deploy?.replicas).toBe(2);
    expect(config.services.gateway.volumes?.[0]).toMatch(
      /deploy\/compose\/gateway\.yaml:\/etc\/switchboard\/gateway\.yaml:ro$/,
    );
    expect(config.services.lb.volumes?.[0]).toMatch(/deploy\/haproxy\.cfg:/);
  });

  it('refuses to start without an API key from the environment (none is committed)', () => {
    const env = { ...process.env };
    delete env.SWITCHBOARD_API_KEY;
    const result = compose(env);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('set SWITCHBOARD_API_KEY');
  });

  it("has a haproxy config that haproxy accepts, balancing round robin on the replicas' /readyz, sessions kept", () => {
    const result = runTool('haproxy', ['-c', '-f', 'deploy/haproxy.cfg']);
    expect(result.stdout + result.stderr).toContain('Configuration file is valid');
    expect(result.status).toBe(0);
    const cfg = readFileSync('deploy/haproxy.cfg', 'utf8');
    expect(cfg).toMatch(/^\s*balance roundrobin$/m);
    expect(cfg).toMatch(/^\s*http-check send meth GET uri \/readyz\b/m);
    // Until client sessions are shared through Redis, a session stays on the replica that opened it.
    expect(cfg).toMatch(/^\s*stick store-response res\.hdr\(mcp-session-id\)$/m);
    expect(cfg).toMatch(/^\s*stick match req\.hdr\(mcp-session-id\)$/m);
  });
});

describe('gateway configs under deploy/', () => {
  const env = {
    SWITCHBOARD_API_KEY: KEY,
    REDIS_URL: 'redis://redis:6379',
    SWITCHBOARD_PUBLIC_HOST: 'mcp.example.com',
  };
  for (const file of [
    'deploy/gateway.yaml',
    'deploy/compose/gateway.yaml',
    'deploy/kubernetes/base/gateway.yaml',
  ]) {
    it(`${file} is a valid gateway config listening on every interface with auth`, () => {
      const config = parseConfig(parse(readFileSync(file, 'utf8')), {
        env,
        baseDir: dirname(file),
        file,
      });
      expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080 });
      expect(config.auth?.apiKeys?.length).toBe(1);
    });
  }
});
