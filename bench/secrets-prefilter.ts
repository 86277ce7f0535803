// Micro-benchmark of the secrets prefilter on ~100 KB tools/call results: the old combined anchor regex (over the
// bytes read as latin1) against bytesMayHoldSecret, per kind of text. `node --import tsx bench/secrets-prefilter.ts`
// prints CPU µs per 100 KB (the best of several batches, so a busy machine shows less noise) and both answers.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bytesMayHoldSecret } from '../src/policy/secrets/detect.js';
import { ESCAPE_ANCHOR } from '../src/policy/secrets/prefilter.js';
import { SECRET_RULES } from '../src/policy/secrets/rules.js';

const OLD = new RegExp(`${SECRET_RULES.map((rule) => rule.anchor).join('|')}|${ESCAPE_ANCHOR}`);
const SIZE = 100 * 1024;
const ROOT = new URL('..', import.meta.url).pathname;

/** xorshift32 in [0, 1): the same texts on every run. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function sources(dir: string, ext: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sources(path, ext, out);
    else if (path.endsWith(ext)) out.push(readFileSync(path, 'utf8'));
  }
  return out;
}

/** SIZE characters of `parts` repeated, with every anchor match broken (so both must read to the end). */
function fill(parts: readonly string[]): string {
  let text = '';
  for (let i = 0; text.length < SIZE; i++) text += parts[i % parts.length];
  text = text.slice(0, SIZE);
  // Serialised, a newline is `\n` and no longer ends a URL's userinfo: break matches of the JSON form too.
  for (let m = OLD.exec(JSON.stringify(text)); m; m = OLD.exec(JSON.stringify(text))) {
    const at = text.indexOf(m[0].replace(/\\n/g, '\n').replace(/\\"/g, '"'));
    text = `${text.slice(0, at)}#${text.slice(at + 1)}`;
  }
  return text;
}

const result = (text: string) =>
  Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text }] } }));

const rand = random(12345);
const bytes = Buffer.from(Buffer.alloc(SIZE).map(() => Math.floor(rand() * 256)));
const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
const records = Array.from({ length: 800 }, (_, i) => ({
  id: i,
  uuid: [8, 4, 4, 4, 12].map((n) => Math.floor(rand() * 16 ** n).toString(16)).join('-'),
  name: names[i % 8],
  email: `${names[i % 8]}${i}@example.com`,
  created: new Date(1.7e12 + i * 8.64e7).toISOString(),
  url: `https://api.example.com/v1/users/${i}`,
  score: Math.round(rand() * 1e4) / 100,
}));

const TEXTS: Record<string, Buffer> = {
  'plain (bench payload)': result('x'.repeat(SIZE)),
  'JSON code (src/**/*.ts)': result(fill(sources(join(ROOT, 'src'), '.ts').sort())),
  'prose (docs/*.md)': result(fill(sources(join(ROOT, 'docs'), '.md').sort())),
  base64: result(fill([bytes.toString('base64')])),
  hex: result(bytes.toString('hex').slice(0, SIZE)),
  'JSON records in text': result(fill([JSON.stringify(records)])),
  'JSON records, structured': Buffer.from(
    JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [], structuredContent: { records } } }),
  ),
  'plain, anchor at the end': result(`${'x'.repeat(SIZE)} ghp_${'a'.repeat(36)}`),
};

/** CPU µs per call (not wall time: other processes share the machine), the best of 7 batches. */
function time(fn: () => unknown, calls = 200): number {
  for (let i = 0; i < 50; i++) fn();
  let best = Infinity;
  for (let batch = 0; batch < 7; batch++) {
    const start = process.cpuUsage();
    for (let i = 0; i < calls; i++) fn();
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / calls);
  }
  return best;
}

console.log('text'.padEnd(28), 'KB'.padStart(5), 'old µs'.padStart(9), 'new µs'.padStart(9), '  answers');
for (const [name, buf] of Object.entries(TEXTS)) {
  const old = () => OLD.test(buf.toString('latin1'));
  const now = () => bytesMayHoldSecret([buf]);
  const per100 = (us: number) => ((us * SIZE) / buf.length).toFixed(1).padStart(9);
  console.log(
    name.padEnd(28),
    (buf.length / 1024).toFixed(0).padStart(5),
    per100(time(old)),
    per100(time(now)),
    `  ${old()} ${now()}`,
  );
}
