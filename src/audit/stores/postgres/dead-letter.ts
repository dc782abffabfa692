/**
 * Where a poison event goes: an event PostgreSQL refuses even after sanitising (COPY failed
 * with a data error and splitting the batch isolated it) is appended, with the error, to
 * <dir>/dead-letter.jsonl and synced — kept for a person to look at instead of being retried
 * for ever or blocking the events behind it. The count is reported in health and stats.
 */
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { AuditEvent } from '../../events.ts';

export const DEAD_LETTER_FILE = 'dead-letter.jsonl';

export class DeadLetterFile {
  readonly #file: string;
  #count = 0;

  constructor(dir: string) {
    this.#file = path.join(dir, DEAD_LETTER_FILE);
  }

  get count(): number {
    return this.#count;
  }

  get file(): string {
    return this.#file;
  }

  async add(event: AuditEvent, error: { code?: string; message: string }): Promise<void> {
    await this.#append({ dead_lettered_at: new Date().toISOString(), error, event });
  }

  /** A row that could not even be read back as an event: its COPY text, as it was sent. */
  async addRow(row: string, eventId: string, error: { code?: string; message: string }): Promise<void> {
    await this.#append({ dead_lettered_at: new Date().toISOString(), error, event_id: eventId, copy_row: row });
  }

  async #append(record: Record<string, unknown>): Promise<void> {
    await mkdir(path.dirname(this.#file), { recursive: true });
    const line = `${JSON.stringify(record)}\n`;
    const handle = await open(this.#file, 'a');
    try {
      await handle.write(line);
      await handle.sync();
    } finally {
      await handle.close();
    }
    this.#count++;
  }
}
