// Confines every path argument and URI of the built-in servers to their root: real paths compared by
// components (never string prefixes), through symlinks and `..`, refusing special files.
import { constants as fsc, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { ToolError } from './results.js';

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

/** The root's real path; start-up fails clearly when it is missing or not a directory. */
export async function realRoot(root: string, baseDir: string, what: string): Promise<string> {
  const abs = path.resolve(baseDir, root);
  let real: string;
  try {
    real = await fs.realpath(abs);
  } catch {
    throw new Error(`${what}: root ${abs} does not exist`);
  }
  if (!(await fs.stat(real)).isDirectory()) throw new Error(`${what}: root ${abs} is not a directory`);
  return real;
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
  const lexical = path.resolve(root, input === '' ? '.' : input);
  // Checked before touching the file system, so a lexical escape cannot probe what exists outside.
  if (!isInside(root, lexical)) throw new ToolError(`path ${JSON.stringify(input)} is outside the root`);
  let real: string;
  try {
    real = await fs.realpath(lexical);
  } catch {
    throw new ToolError(`path ${JSON.stringify(input)} not found`);
  }
  if (!isInside(root, real)) {
    throw new ToolError(
      `path ${JSON.stringify(input)} is outside the root (it resolves through a symbolic link)`,
    );
  }
  const stat = await fs.stat(real);
  if (!stat.isFile() && !stat.isDirectory()) {
    throw new ToolError(`path ${JSON.stringify(input)} is a special file (FIFO, socket or device); refused`);
  }
  if (expect === 'file' && !stat.isFile()) throw new ToolError(`path ${JSON.stringify(input)} is not a file`);
  if (expect === 'directory' && !stat.isDirectory()) {
    throw new ToolError(`path ${JSON.stringify(input)} is not a directory`);
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
 * Reads at most `maxBytes` of a regular file. The descriptor is checked again after opening (a file
 * swapped for a FIFO between resolve and open is refused; O_NONBLOCK keeps the open itself from hanging).
 */
export async function readCapped(
  real: string,
  maxBytes: number,
): Promise<{ text: string; truncated: boolean; size: number }> {
  const handle = await fs.open(real, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ToolError('refused: not a regular file');
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
  const { text, truncated, size } = await readCapped(real, maxBytes);
  if (truncated)
    throw new ToolError(`file ${JSON.stringify(rel)} is ${size} bytes, over the ${maxBytes}-byte limit`);
  if (looksBinary(text)) throw new ToolError(`file ${JSON.stringify(rel)} looks binary; refused`);
  return { rel, text };
}
