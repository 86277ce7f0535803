// Confines paths to roots, for the built-in servers and for the `path` guard on any upstream's tools: real
// paths compared by components (never string prefixes), through symlinks and `..`, refusing special files; the
// built-in servers also verify every open on the descriptor itself, so a swap after the check gains nothing.
import { constants as fsc, existsSync, promises as fs, type Dirent, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ToolError } from './tool-error.js';

/** Linux names each open descriptor's real path here; elsewhere a slower, narrower check stands in. */
const FD_DIR = existsSync('/proc/self/fd') ? '/proc/self/fd' : undefined;

export interface Resolved {
  real: string; // absolute real path, inside root
  rel: string; // path relative to root, '/'-separated ('' for the root itself)
  stat: Stats;
}

/** True when `candidate` is `root` or below it, compared by path components. */
export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
}

/**
 * The root's real path; start-up fails clearly when it is missing or not a directory, and when it is the
 * whole file system or the user's home folder (every credential file at once) without `allow_broad_root`.
 */
export async function realRoot(
  root: string,
  baseDir: string,
  what: string,
  allowBroad = false,
): Promise<string> {
  const abs = path.resolve(baseDir, root);
  let real: string;
  try {
    real = await fs.realpath(abs);
  } catch {
    throw new Error(`${what}: root ${abs} does not exist`);
  }
  if (!(await fs.stat(real)).isDirectory()) throw new Error(`${what}: root ${abs} is not a directory`);
  if (!allowBroad) {
    const home = await fs.realpath(os.homedir()).catch(() => os.homedir());
    const broad =
      real === path.parse(real).root ? 'the whole file system' : real === home ? 'your home folder' : '';
    if (broad) {
      throw new Error(
        `${what}: root ${abs} is ${broad}, which exposes every file in it (keys, tokens, shell history); ` +
          'point root at a project folder, or set allow_broad_root: true to serve it anyway',
      );
    }
  }
  return real;
}

/**
 * Opens `target` and proves the descriptor lies inside root: the last component is never followed
 * (O_NOFOLLOW), and the opened object's own path (/proc/self/fd on Linux) must be inside root, so a
 * folder swapped for a symlink between any check and this open is caught after the fact.
 */
export async function openInside(
  root: string,
  target: string,
  directory = false,
): Promise<{ handle: FileHandle; stat: Stats }> {
  const flags = fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW | (directory ? fsc.O_DIRECTORY : 0);
  const handle = await fs.open(target, flags);
  try {
    // Elsewhere: the real path by name must be inside and be this very file (same device and inode).
    const opened = FD_DIR ? await fs.readlink(`${FD_DIR}/${handle.fd}`) : await fs.realpath(target);
    if (!isInside(root, opened)) throw new ToolError('refused: the path left the root while it was opened');
    const stat = await handle.stat();
    if (!FD_DIR) {
      const named = await fs.stat(opened);
      if (named.ino !== stat.ino || named.dev !== stat.dev)
        throw new ToolError('refused: the path changed while it was opened');
    }
    if (directory ? !stat.isDirectory() : !stat.isFile())
      throw new ToolError(`refused: not a ${directory ? 'directory' : 'regular file'}`);
    return { handle, stat };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** The entries of a directory inside root, read through a verified descriptor (see openInside). */
export async function readDirInside(root: string, dir: string): Promise<Dirent[]> {
  const { handle } = await openInside(root, dir, true);
  try {
    // Through /proc the listing comes from the descriptor itself, never from the name again.
    return await fs.readdir(FD_DIR ? `${FD_DIR}/${handle.fd}` : dir, { withFileTypes: true });
  } finally {
    await handle.close();
  }
}

/** Why a path was refused: the built-in servers and the path guard each word it their own way. */
export type PathProblem =
  'outside' | 'outside-via-link' | 'missing' | 'special' | 'dangling-link' | 'missing-climbs';

/** A refusal with its reason; a ToolError, so the built-in servers show its message as it is. */
export class PathRefusal extends ToolError {
  constructor(
    readonly problem: PathProblem,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The core both users share: an absolute path must lie inside one of `roots` (real paths) as written (lexically,
 * checked before touching the file system, so an escape cannot probe what exists outside) and as the kernel
 * resolves it, through every symlink; it must exist and be a file or directory. With `allowMissing` (a file a
 * tool will create), the deepest existing ancestor must resolve inside instead, the first missing component
 * must not be a dangling symlink, and the missing rest must not climb with `..`.
 */
export async function realInside(
  roots: readonly string[],
  absolute: string,
  allowMissing = false,
): Promise<{ real: string; stat?: Stats } | PathProblem> {
  const inside = (candidate: string) => roots.some((root) => isInside(root, candidate));
  const lexical = path.resolve(absolute);
  if (!inside(lexical)) return 'outside';
  // An upstream may normalise `..` first or leave it to the kernel (`link/..` is then wherever `link` points):
  // both readings must stay inside.
  if (lexical !== absolute) {
    const raw = await realOne(absolute, inside, allowMissing);
    if (typeof raw === 'string') return raw;
  }
  return realOne(lexical, inside, allowMissing);
}

async function realOne(
  absolute: string,
  inside: (candidate: string) => boolean,
  allowMissing: boolean,
): Promise<{ real: string; stat?: Stats } | PathProblem> {
  let real: string;
  try {
    real = await fs.realpath(absolute);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !allowMissing) return 'missing';
    return missingInside(absolute, inside);
  }
  if (!inside(real)) return 'outside-via-link';
  const stat = await fs.stat(real);
  if (!stat.isFile() && !stat.isDirectory()) return 'special';
  return { real, stat };
}

/** A path that does not exist yet: judged by its deepest existing ancestor (see realInside). */
async function missingInside(
  absolute: string,
  inside: (candidate: string) => boolean,
): Promise<{ real: string } | PathProblem> {
  const tail: string[] = [];
  let at = absolute;
  for (;;) {
    const parent = path.dirname(at);
    if (parent === at) return 'missing';
    tail.unshift(path.basename(at));
    at = parent;
    try {
      const real = await fs.realpath(at);
      if (!inside(real)) return 'outside-via-link';
      if (!(await fs.stat(real)).isDirectory()) return 'missing';
      // An entry that exists but does not resolve is a link to nowhere: writing through it lands where it points.
      const first = await fs.lstat(path.join(real, tail[0])).catch(() => undefined);
      if (first) return 'dangling-link';
      if (tail.includes('..')) return 'missing-climbs';
      return { real: path.join(real, ...tail) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return 'missing';
    }
  }
}

/**
 * Resolves a user-supplied path (relative to root, or absolute) to a real path inside root.
 * Throws ToolError with a message that names only the argument, never anything outside the root.
 */
export async function resolveInside(
  root: string,
  input: string,
  expect?: 'file' | 'directory',
): Promise<Resolved> {
  if (input.includes('\0'))
    throw new ToolError(`invalid path ${JSON.stringify(input)}: contains a null byte`);
  const named = JSON.stringify(input);
  const found = await realInside([root], path.resolve(root, input === '' ? '.' : input));
  if (typeof found === 'string') {
    const messages: Record<PathProblem, string> = {
      outside: `path ${named} is outside the root`,
      'outside-via-link': `path ${named} is outside the root (it resolves through a symbolic link)`,
      missing: `path ${named} not found`,
      'dangling-link': `path ${named} not found`,
      'missing-climbs': `path ${named} not found`,
      special: `path ${named} is a special file (FIFO, socket or device); refused`,
    };
    throw new PathRefusal(found, messages[found]);
  }
  const { real, stat } = found as Resolved;
  if (expect === 'file' && !stat.isFile()) throw new ToolError(`path ${named} is not a file`);
  if (expect === 'directory' && !stat.isDirectory()) {
    throw new ToolError(`path ${named} is not a directory`);
  }
  return { real, rel: path.relative(root, real).split(path.sep).join('/'), stat };
}

/** Decodes the path part of a resource URI once; malformed escapes and null bytes are refused. */
export function decodeUriPath(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new ToolError(`invalid URI path ${JSON.stringify(raw)}: malformed percent-encoding`);
  }
  if (decoded.includes('\0'))
    throw new ToolError(`invalid URI path ${JSON.stringify(raw)}: contains a null byte`);
  return decoded;
}

/**
 * Reads at most `maxBytes` of a regular file inside root. The descriptor is verified after opening
 * (openInside: inside root, a regular file; O_NONBLOCK keeps the open itself from hanging on a FIFO).
 */
export async function readCapped(
  root: string,
  file: string,
  maxBytes: number,
): Promise<{ text: string; truncated: boolean; size: number }> {
  const { handle, stat } = await openInside(root, file);
  try {
    const length = Math.min(stat.size, maxBytes);
    const buffer = Buffer.alloc(length);
    let offset = 0;
    while (offset < length) {
      const { bytesRead } = await handle.read(buffer, offset, length - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    return {
      text: buffer.subarray(0, offset).toString('utf8'),
      truncated: stat.size > maxBytes,
      size: stat.size,
    };
  } finally {
    await handle.close();
  }
}

/** A cheap binary sniff: a NUL byte in the first 8 KiB. */
export function looksBinary(text: string): boolean {
  return text.slice(0, 8192).includes('\0');
}

/** Reads a text file inside root, refusing binary and oversized files. */
export async function readTextInside(root: string, filePath: string, maxBytes: number) {
  const { real, rel } = await resolveInside(root, filePath, 'file');
  const { text, truncated, size } = await readCapped(root, real, maxBytes).catch((err: unknown) => {
    throw err instanceof ToolError ? new ToolError(`file ${JSON.stringify(rel)}: ${err.message}`) : err;
  });
  if (truncated)
    throw new ToolError(`file ${JSON.stringify(rel)} is ${size} bytes, over the ${maxBytes}-byte limit`);
  if (looksBinary(text)) throw new ToolError(`file ${JSON.stringify(rel)} looks binary; refused`);
  return { rel, text };
}
