// deploy/Dockerfile, checked statically (no Docker engine on CI's machine): lint-clean, and the runtime
// stage has what issue 15 asks of it: production dependencies only, non-root, tini, /healthz, mounted config.
import { existsSync, readFileSync } from 'node:fs';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';

const DOCKERFILE = readFileSync('deploy/Dockerfile', 'utf8');
const instructions = DockerfileParser.parse(DOCKERFILE).getInstructions();
/** Everything after the keyword, flags included (getArgumentsContent leaves out `--from=`). */
const args = (i: Instruction) => i.getTextContent().slice(i.getKeyword().length).trim();

/** The instructions of each stage, by `AS` name, in order. */
function stages(): Map<string, Instruction[]> {
  const result = new Map<string, Instruction[]>();
  let current: Instruction[] | undefined;
  for (const instruction of instructions) {
    if (instruction.getKeyword() === 'FROM') {
      const name = /\bAS\s+(\S+)/i.exec(args(instruction))?.[1] ?? String(result.size);
      result.set(name, (current = [instruction]));
    } else current?.push(instruction);
  }
  return result;
}

const byKeyword = (list: Instruction[], keyword: string) =>
  list.filter((i) => i.getKeyword() === keyword).map(args);

describe('deploy/Dockerfile', () => {
  it('has no lint error or warning', () => {
    const problems = validate(DOCKERFILE).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(problems).toEqual([]);
  });

  it('builds on Node 20 slim in separate stages, the runtime one last', () => {
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(DOCKERFILE)?.[1];
    expect(base).toMatch(/^node:20[.\w-]*-slim$/);
    const all = stages();
    expect([...all.keys()]).toEqual(['build', 'deps', 'runtime']);
    for (const stage of all.values()) expect(args(stage[0])).toMatch(/^\$\{NODE_IMAGE\} AS /);
    expect(byKeyword(all.get('build')!, 'RUN').join('\n')).toMatch(/npm ci\b[\s\S]*npm run build/);
  });

  it('installs production dependencies only, and copies the runtime nothing else from the build', () => {
    const all = stages();
    expect(byKeyword(all.get('deps')!, 'RUN').join('\n')).toMatch(/npm ci --omit=dev\b/);
    const runtime = all.get('runtime')!;
    expect(byKeyword(runtime, 'RUN').join('\n')).not.toMatch(/npm (ci|install)/);
    const fromStages = byKeyword(runtime, 'COPY').filter((c) => c.startsWith('--from='));
    expect(fromStages.sort()).toEqual([
      '--from=build /src/dist ./dist',
      '--from=deps /app/node_modules ./node_modules',
    ]);
  });

  it('runs as a numeric non-root user under tini, serving on every interface from a mounted config', () => {
    const runtime = stages().get('runtime')!;
    const user = byKeyword(runtime, 'USER').at(-1);
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(byKeyword(runtime, 'RUN').join('\n')).toMatch(/apt-get install[^\n]*\btini\b/);
    const entrypoint = JSON.parse(byKeyword(runtime, 'ENTRYPOINT').at(-1)!) as string[];
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    const cmd = JSON.parse(byKeyword(runtime, 'CMD').at(-1)!) as string[];
    expect(cmd.join(' ')).toBe('serve --config /etc/switchboard/gateway.yaml --host 0.0.0.0 --port 8080');
    expect(byKeyword(runtime, 'COPY')).toContain('deploy/gateway.yaml /etc/switchboard/gateway.yaml');
  });

  it('checks its health on /healthz', () => {
    const healthcheck = byKeyword(stages().get('runtime')!, 'HEALTHCHECK');
    expect(healthcheck).toHaveLength(1);
    expect(healthcheck[0]).toMatch(/CMD .*http:\/\/127\.0\.0\.1:8080\/healthz/);
  });

  it('copies only files that exist and that the build context lets through', () => {
    const ignore = readFileSync('deploy/Dockerfile.dockerignore', 'utf8');
    const allowed = ignore
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''));
    const sources = instructions
      .filter((i) => i.getKeyword() === 'COPY' && !args(i).startsWith('--from='))
      .flatMap((i) => args(i).split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(source), source).toBe(true);
      expect(allowed, source).toContain(source);
    }
  });
});
