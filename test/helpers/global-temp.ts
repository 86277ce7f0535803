// Vitest global set-up: one temporary folder for the whole run, in which tests make their own folders
// (makeTempDir), removed when the run ends, so no run leaves folders behind in the system's temporary folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(path.join(tmpdir(), 'switchboard-tests-'));
  // Forked test workers inherit the environment, so they all find the same folder.
  process.env.SWITCHBOARD_TEST_TMP = root;
  return () => rmSync(root, { recursive: true, force: true });
}
