/**
 * Owns the on-disk spool (DESIGN §16): every envelope is written here before it is sent and
 * removed only once the gateway has settled it, so events survive a gateway outage and a
 * collector's restart (at least once; the idempotency key makes the repeats harmless). One file
 * per envelope, written to a temporary name and renamed, so a crash never leaves half a file under
 * a real name. The spool is bounded: past `maxEvents` the oldest are dropped and logged, so an
 * outage cannot fill the disk.
 *
 * Several collector processes may share a spool (hooks run one process per event). Two of them
 * may send the same file; the gateway answers the second as a duplicate, and removing a file
 * another process already removed is not an error.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Envelope } from '@aispm/contracts';
import type { Log } from './log';

/** One spooled envelope and the file it lives in. */
export interface SpoolEntry {
  readonly file: string;
  readonly envelope: Envelope;
}

const SUFFIX = '.json';

export class Spool {
  private sequence = 0;

  constructor(
    readonly dir: string,
    private readonly maxEvents: number,
    private readonly log: Log,
  ) {}

  /**
   * Writes each envelope durably; returns their files, in order, and how many older ones were
   * dropped to stay in bounds.
   */
  add(envelopes: readonly Envelope[]): { files: string[]; dropped: number } {
    const written: string[] = [];
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const envelope of envelopes) {
      // Time first, so a sorted listing is oldest first; the sequence and random part keep
      // names unique within one millisecond and across processes.
      // The event id is the sender's text: only a bounded run of safe characters goes into a name.
      const id = String(envelope.event?.event_id ?? '')
        .replace(/[^A-Za-z0-9_.-]/g, '_')
        .slice(0, 80);
      const name = `${String(Date.now()).padStart(15, '0')}-${String(this.sequence++).padStart(6, '0')}-${randomBytes(4).toString('hex')}-${id}`;
      const temporary = path.join(this.dir, `.${name}.tmp`);
      writeFileSync(temporary, JSON.stringify(envelope), { mode: 0o600 });
      renameSync(temporary, path.join(this.dir, `${name}${SUFFIX}`));
      written.push(`${name}${SUFFIX}`);
    }
    const files = this.files();
    const excess = files.length - this.maxEvents;
    if (excess <= 0) return { files: written, dropped: 0 };
    this.remove(files.slice(0, excess));
    this.log('warn', 'spool full; dropped the oldest events', {
      dropped: excess,
      max_events: this.maxEvents,
    });
    return { files: written, dropped: excess };
  }

  /** Up to `limit` of the oldest entries; unreadable files are dropped (and logged). */
  take(limit: number): SpoolEntry[] {
    const entries: SpoolEntry[] = [];
    for (const file of this.files()) {
      if (entries.length >= limit) break;
      try {
        entries.push({
          file,
          envelope: JSON.parse(readFileSync(path.join(this.dir, file), 'utf8')) as Envelope,
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        this.log('error', 'dropping an unreadable spool file', { file, err: String(error) });
        this.remove([file]);
      }
    }
    return entries;
  }

  /** Removes settled files; one already gone is fine. */
  remove(files: readonly string[]): void {
    for (const file of files) {
      try {
        unlinkSync(path.join(this.dir, file));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }

  /** How many envelopes are spooled now. */
  size(): number {
    return this.files().length;
  }

  private files(): string[] {
    try {
      return readdirSync(this.dir)
        .filter((name) => name.endsWith(SUFFIX) && !name.startsWith('.'))
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }
}
