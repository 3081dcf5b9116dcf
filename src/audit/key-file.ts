// Creating a key file exactly once, even when several processes (nodes sharing a volume) start
// at the same moment: the content goes to a private temporary file first and is then linked
// into place, which fails if the file exists, so a reader never sees a half-written key and
// the losers of the race use the winner's key.
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes `content` to `path` (mode 0600, folder 0700) unless it exists; true when this call created it. */
export function createKeyFileOnce(path: string, content: string): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, content, { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(temp, 0o600);
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temp);
  }
}
