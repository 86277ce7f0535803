// Compiles bench/upstream-server.ts (and the soak's fault server) to plain JavaScript once per run, so every target runs the same upstream
// without tsx's loader in its process (tsx would add start-up time and memory to the trees we measure).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Writes the compiled upstream under node_modules/.cache (so its imports resolve) and returns its path. */
export function compileUpstream(): string {
  return compileToCache('bench/upstream-server.ts', 'switchboard-bench');
}

/** Transpiles one TypeScript file of the repository to `node_modules/.cache/<cache>/<name>.mjs`. */
export function compileToCache(source: string, cache: string): string {
  const name = path.basename(source, '.ts');
  const { outputText } = ts.transpileModule(readFileSync(path.join(REPO_ROOT, source), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: `${name}.ts`,
  });
  const outDir = path.join(REPO_ROOT, 'node_modules', '.cache', cache);
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${name}.mjs`);
  writeFileSync(file, outputText);
  return file;
}
