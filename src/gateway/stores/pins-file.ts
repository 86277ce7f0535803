// The pins file (`switchboard.pins.json` beside the config by default): read whole, written whole to a
// temporary file and renamed over, so a reader (the CLI, another look by the gateway) never sees half of it.
// Whoever writes merges with what is on disk first, so an approval and the gateway's own pins both survive.
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { rename, stat, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GatewayError } from '../../errors.js';
import { mergePins, pinsFromJson, pinsToJson, type PinBackend, type PinData } from './pins-definition.js';

export class PinFile implements PinBackend {
  /** What the file looked like when this process last read or wrote it (mtime, size, inode). */
  private seen = '';
  readonly retried = false;
  readonly shared = false;

  constructor(readonly file: string) {}

  get where(): string {
    return this.file;
  }

  /** A missing file is an empty store; one that cannot be read, parsed or written stops start-up. */
  async load(): Promise<PinData> {
    const data = this.read();
    try {
      accessSync(path.dirname(this.file), constants.W_OK);
    } catch (error) {
      throw this.refusal(`its folder is not writable (${(error as Error).message})`);
    }
    this.seen = await this.fingerprint();
    return data;
  }

  async save(changes: PinData): Promise<void> {
    const disk = this.read();
    // Written by someone else since this process last looked (an approval): merged below, and the next poll
    // must load the file, or this process would keep its own older view of those records.
    const theirs = (await this.fingerprint()) !== this.seen;
    const merged = mergePins(disk, changes);
    const temp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(temp, pinsToJson(merged), { mode: 0o644 });
      await rename(temp, this.file);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
    this.seen = theirs ? '' : await this.fingerprint();
  }

  async changed(): Promise<boolean> {
    return (await this.fingerprint()) !== this.seen;
  }

  async close(): Promise<void> {}

  /** Synchronous on purpose: a save reads and merges right before it writes, leaving the smallest window. */
  private read(): PinData {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw this.refusal(`cannot read it (${(error as Error).message})`);
    }
    try {
      return pinsFromJson(text);
    } catch (error) {
      throw this.refusal(`it is not a valid pins file: ${(error as Error).message}`);
    }
  }

  private async fingerprint(): Promise<string> {
    const info = await stat(this.file).catch(() => undefined);
    return info ? `${info.mtimeMs}:${info.size}:${info.ino}` : 'absent';
  }

  private refusal(problem: string): GatewayError {
    return new GatewayError(
      'config',
      `pins file ${this.file}: ${problem}. Without its pins the gateway cannot tell a changed tool from a ` +
        'pinned one, so it does not start: restore or repair the file, delete it to pin every tool afresh, ' +
        'or set `pinning: off` on the upstreams',
    );
  }
}
