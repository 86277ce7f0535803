// Compiles bench/upstream-server.ts to plain JavaScript once per run, so every target runs the same upstream
// without tsx's loader in its process (tsx would add start-up time and memory to the trees we measure).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Writes the compiled upstream under node_modules/.cache (so its imports resolve) and returns its path. */
export function compileUpstream(): string {
  const source = readFileSync(path.join(REPO_ROOT, 'bench', 'upstream-server.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: 'upstream-server.ts',
  });
  const outDir = path.join(REPO_ROOT, 'node_modules', '.cache', 'switchboard-bench');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, 'upstream-server.mjs');
  writeFileSync(file, outputText);
  return file;
}
