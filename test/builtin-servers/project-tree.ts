// Builds the throwaway source tree the project-server tests run against, with a secret outside the root,
// a sibling whose name shares the root's prefix (root2), symlinks pointing out and a FIFO.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './helpers.js';

export const SECRET = 'TOP-SECRET-OUTSIDE-ROOT';

export function makeProjectTree() {
  const tmp = tempDir('sb-project-');
  const root = path.join(tmp.dir, 'root');
  const write = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(tmp.dir, rel)), { recursive: true });
    writeFileSync(path.join(tmp.dir, rel), text);
  };
  write('outside/secret.txt', `${SECRET}\n`);
  write('root2/secret.txt', `${SECRET} (prefix sibling)\n`);
  write('root/.gitignore', 'ignored/\n*.log\n');
  write('root/README.md', '# Demo project\n\nA tree for tests.\n');
  write('root/package.json', '{ "name": "demo", "dependencies": { "left-pad": "1.0.0" } }\n');
  write('root/requirements.txt', 'requests==2.32.0\n');
  write(
    'root/src/app.ts',
    'export function greet(name: string) {\n  return `hello ${name}`;\n}\n\nexport const answer = 42;\n',
  );
  write('root/src/util/strings.ts', '// helpers\nexport const shout = (s: string) => s.toUpperCase();\n');
  write('root/src/nested/.gitignore', 'generated.ts\n');
  write('root/src/nested/generated.ts', 'export function greet() {}\n');
  write('root/src/nested/kept.ts', 'export const kept = true;\n');
  write('root/ignored/hidden.ts', 'export function greet() {}\n');
  write('root/debug.log', 'greet was called\n');
  write('root/-dash.test.txt', 'a file whose name starts with a dash\n');
  write('root/redos.txt', `${'a'.repeat(50_000)}!\n`);
  symlinkSync(path.join(tmp.dir, 'outside'), path.join(root, 'link-out'));
  symlinkSync(path.join(tmp.dir, 'outside', 'secret.txt'), path.join(root, 'link-file'));
  symlinkSync(path.join(root, 'src', 'app.ts'), path.join(root, 'link-inside.ts'));
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  return { ...tmp, root };
}
