// Walks the files of a source tree that .gitignore does not exclude (nested .gitignore files included),
// never following symlinks, skipping `.git` and special files, bounded in count. Every folder is listed
// through a verified descriptor (safe-path.ts), so a folder swapped for a symlink mid-walk is not entered.
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { readCapped, readDirInside } from '../../policy/guards/safe-path.js';

interface Rules {
  base: string; // directory of the .gitignore, relative to root ('' for root)
  ig: Ignore;
}

export interface WalkEntry {
  rel: string; // '/'-separated, relative to root
  abs: string;
  isDir: boolean;
}

async function loadRules(root: string, dirRel: string): Promise<Rules | undefined> {
  try {
    const { text } = await readCapped(root, path.join(root, dirRel, '.gitignore'), 1024 * 1024);
    return { base: dirRel, ig: ignore().add(text) };
  } catch {
    return undefined;
  }
}

function ignored(stack: Rules[], rel: string, isDir: boolean): boolean {
  for (const { base, ig } of stack) {
    const sub = base === '' ? rel : rel.slice(base.length + 1);
    if (ig.ignores(isDir ? `${sub}/` : sub)) return true;
  }
  return false;
}

/**
 * Yields entries below `startRel` (a directory relative to root), depth first, sorted by name.
 * Directories are yielded too when `withDirs` is set. Stops after `maxEntries`.
 */
export async function* walk(
  root: string,
  startRel = '',
  opts: { maxEntries?: number; withDirs?: boolean } = {},
): AsyncGenerator<WalkEntry> {
  const maxEntries = opts.maxEntries ?? 50_000;
  // The .gitignore files of the start directory's ancestors apply too.
  const stack: Rules[] = [];
  const parts = startRel === '' ? [] : startRel.split('/');
  for (let i = 0; i < parts.length; i++) {
    const rules = await loadRules(root, parts.slice(0, i).join('/'));
    if (rules) stack.push(rules);
  }
  let count = 0;
  async function* visit(dirRel: string, rules: Rules[]): AsyncGenerator<WalkEntry> {
    const own = await loadRules(root, dirRel);
    const active = own ? [...rules, own] : rules;
    let entries;
    try {
      entries = await readDirInside(root, path.join(root, dirRel));
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (count >= maxEntries) return;
      const rel = dirRel === '' ? entry.name : `${dirRel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name === '.git' || ignored(active, rel, true)) continue;
        count++;
        if (opts.withDirs) yield { rel, abs: path.join(root, rel), isDir: true };
        yield* visit(rel, active);
      } else if (entry.isFile()) {
        if (ignored(active, rel, false)) continue;
        count++;
        yield { rel, abs: path.join(root, rel), isDir: false };
      }
      // Symlinks, FIFOs, sockets and devices are never walked.
    }
  }
  yield* visit(startRel, stack);
}
