/**
 * Pinned MCP tool definitions (issue 20): a catalogue server's tool is trusted as it was first
 * seen. The hash of its definition (name, title, description, schemas, annotations) is stored
 * beside the audit trail the first time; when the server later presents a different definition
 * (a description rewritten to instruct the model, a schema widened), that tool is withheld from
 * every session and the change is audited, until an operator accepts it:
 * `semibot-runtime mcp pins accept SERVER`.
 *
 *   file store      <AUDIT_LOG_DIR>/mcp-tool-pins.json (written whole, atomically)
 *   database store  table mcp_tool_pins (migration 0004)
 *   memory store    in process
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../../config/schema.ts';
import { canonicalJson, sha256Hex } from '../../audit/hash-chain.ts';
import { createPool } from '../../db/pool.ts';

export interface ToolPin {
  server_id: string;
  tool: string;
  hash: string;
  pinned_at: string;
  /** a different definition seen since, withheld until accepted */
  pending_hash?: string;
  pending_seen_at?: string;
}

export interface PinStore {
  /** the pins of one server, by tool name */
  forServer(serverId: string): Promise<Map<string, ToolPin>>;
  /** pins a tool seen for the first time (no-op when it has a pin) */
  pin(serverId: string, tool: string, hash: string): Promise<void>;
  /** records a different definition seen for a pinned tool */
  markPending(serverId: string, tool: string, hash: string): Promise<void>;
  /** makes every pending definition of the server the pinned one; returns what it accepted */
  accept(serverId: string): Promise<ToolPin[]>;
  list(serverId?: string): Promise<ToolPin[]>;
  close(): Promise<void>;
}

export const PINS_FILE = 'mcp-tool-pins.json';

/** The hash a definition is pinned by: every field a client or model reads. */
export function toolDefinitionHash(tool: {
  name: string;
  title?: string | undefined;
  description?: string | undefined;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}): string {
  return sha256Hex(
    canonicalJson({
      name: tool.name,
      title: tool.title ?? null,
      description: tool.description ?? null,
      inputSchema: tool.inputSchema ?? null,
      outputSchema: tool.outputSchema ?? null,
      annotations: tool.annotations ?? null,
    }),
  );
}

export function createPinStore(config: Readonly<Config>): PinStore {
  switch (config.audit.storage_type) {
    case 'file':
      return new FilePinStore(path.join(config.audit.log_dir, PINS_FILE));
    case 'database':
      return new PgPinStore(createPool(config.database, { applicationName: 'semibot-runtime mcp pins' }));
    default:
      return new MemoryPinStore();
  }
}

export class MemoryPinStore implements PinStore {
  protected pins = new Map<string, ToolPin>();

  async forServer(serverId: string): Promise<Map<string, ToolPin>> {
    await this.load();
    const out = new Map<string, ToolPin>();
    for (const pin of this.pins.values()) if (pin.server_id === serverId) out.set(pin.tool, { ...pin });
    return out;
  }

  async pin(serverId: string, tool: string, hash: string): Promise<void> {
    await this.change((pins) => {
      const key = pinKey(serverId, tool);
      if (!pins.has(key))
        pins.set(key, { server_id: serverId, tool, hash, pinned_at: new Date().toISOString() });
    });
  }

  async markPending(serverId: string, tool: string, hash: string): Promise<void> {
    await this.change((pins) => {
      const pin = pins.get(pinKey(serverId, tool));
      if (pin && pin.hash !== hash && pin.pending_hash !== hash) {
        pin.pending_hash = hash;
        pin.pending_seen_at = new Date().toISOString();
      }
    });
  }

  async accept(serverId: string): Promise<ToolPin[]> {
    const accepted: ToolPin[] = [];
    await this.change((pins) => {
      for (const pin of pins.values()) {
        if (pin.server_id !== serverId || pin.pending_hash === undefined) continue;
        pin.hash = pin.pending_hash;
        pin.pinned_at = new Date().toISOString();
        delete pin.pending_hash;
        delete pin.pending_seen_at;
        accepted.push({ ...pin });
      }
    });
    return accepted;
  }

  async list(serverId?: string): Promise<ToolPin[]> {
    await this.load();
    return [...this.pins.values()]
      .filter((p) => serverId === undefined || p.server_id === serverId)
      .map((p) => ({ ...p }))
      .sort((a, b) => pinKey(a.server_id, a.tool).localeCompare(pinKey(b.server_id, b.tool)));
  }

  async close(): Promise<void> {}

  /** read the stored pins (the file store re-reads: the CLI may have accepted some) */
  protected async load(): Promise<void> {}

  protected async change(edit: (pins: Map<string, ToolPin>) => void): Promise<void> {
    await this.load();
    edit(this.pins);
  }
}

/** One JSON file beside the audit files; replaced whole through a temporary file and rename. */
export class FilePinStore extends MemoryPinStore {
  readonly #file: string;
  #writing: Promise<void> = Promise.resolve();

  constructor(file: string) {
    super();
    this.#file = file;
  }

  protected override async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.pins = new Map();
        return;
      }
      throw err;
    }
    const parsed = JSON.parse(text) as { pins?: ToolPin[] };
    this.pins = new Map((parsed.pins ?? []).map((p) => [pinKey(p.server_id, p.tool), p]));
  }

  protected override async change(edit: (pins: Map<string, ToolPin>) => void): Promise<void> {
    // One read-modify-write at a time in this process.
    const next = this.#writing.then(async () => {
      await this.load();
      const before = JSON.stringify([...this.pins.values()]);
      edit(this.pins);
      if (JSON.stringify([...this.pins.values()]) === before) return;
      await mkdir(path.dirname(this.#file), { recursive: true });
      const tmp = `${this.#file}.${randomUUID()}.tmp`;
      await writeFile(tmp, `${JSON.stringify({ version: 1, pins: [...this.pins.values()] }, null, 2)}\n`, {
        flush: true,
      });
      await rename(tmp, this.#file);
    });
    this.#writing = next.catch(() => {});
    return next;
  }
}

/** What the PostgreSQL store needs of a pool (pg.Pool; no pg types in the package's declarations). */
export interface PinQueryable {
  query<R>(text: string, values: unknown[]): Promise<{ rows: R[] }>;
  end(): Promise<void>;
}

export class PgPinStore implements PinStore {
  readonly #pool: PinQueryable;

  constructor(pool: PinQueryable) {
    this.#pool = pool;
  }

  async forServer(serverId: string): Promise<Map<string, ToolPin>> {
    return new Map((await this.list(serverId)).map((p) => [p.tool, p]));
  }

  async pin(serverId: string, tool: string, hash: string): Promise<void> {
    await this.#pool.query(
      'INSERT INTO mcp_tool_pins (server_id, tool, hash) VALUES ($1, $2, $3) ON CONFLICT (server_id, tool) DO NOTHING',
      [serverId, tool, hash],
    );
  }

  async markPending(serverId: string, tool: string, hash: string): Promise<void> {
    await this.#pool.query(
      `UPDATE mcp_tool_pins SET pending_hash = $3, pending_seen_at = now()
        WHERE server_id = $1 AND tool = $2 AND hash <> $3 AND pending_hash IS DISTINCT FROM $3`,
      [serverId, tool, hash],
    );
  }

  async accept(serverId: string): Promise<ToolPin[]> {
    const { rows } = await this.#pool.query<PinRow>(
      `UPDATE mcp_tool_pins SET hash = pending_hash, pinned_at = now(), pending_hash = NULL, pending_seen_at = NULL
        WHERE server_id = $1 AND pending_hash IS NOT NULL
        RETURNING server_id, tool, hash, pinned_at, pending_hash, pending_seen_at`,
      [serverId],
    );
    return rows.map(fromRow);
  }

  async list(serverId?: string): Promise<ToolPin[]> {
    const { rows } = await this.#pool.query<PinRow>(
      `SELECT server_id, tool, hash, pinned_at, pending_hash, pending_seen_at FROM mcp_tool_pins
        WHERE $1::text IS NULL OR server_id = $1 ORDER BY server_id, tool`,
      [serverId ?? null],
    );
    return rows.map(fromRow);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

interface PinRow {
  server_id: string;
  tool: string;
  hash: string;
  pinned_at: Date;
  pending_hash: string | null;
  pending_seen_at: Date | null;
}

function fromRow(r: PinRow): ToolPin {
  return {
    server_id: r.server_id,
    tool: r.tool,
    hash: r.hash,
    pinned_at: r.pinned_at.toISOString(),
    ...(r.pending_hash !== null ? { pending_hash: r.pending_hash } : {}),
    ...(r.pending_seen_at !== null ? { pending_seen_at: r.pending_seen_at.toISOString() } : {}),
  };
}

const pinKey = (serverId: string, tool: string) => `${serverId}\n${tool}`;

/** A tool the guard withheld: its pinned definition and the one the server presents now. */
export interface WithheldTool {
  org_id: string;
  server_id: string;
  tool: string;
  pinned_hash: string;
  seen_hash: string;
}

/**
 * Admits a server's tool list against the pins: new tools are pinned, unchanged ones pass,
 * changed ones are withheld (recorded as pending, reported once per definition).
 */
export class PinGuard {
  readonly #store: PinStore;
  readonly #onWithheld: (tool: WithheldTool) => void;
  readonly #onStoreError: (err: unknown) => void;
  /** the last pins read per server, used while the store cannot be read */
  readonly #lastPins = new Map<string, Map<string, ToolPin>>();
  readonly #reported = new Set<string>();

  constructor(
    store: PinStore,
    onWithheld: (tool: WithheldTool) => void,
    onStoreError: (err: unknown) => void,
  ) {
    this.#store = store;
    this.#onWithheld = onWithheld;
    this.#onStoreError = onStoreError;
  }

  async admit<T extends { name: string }>(
    orgId: string,
    serverId: string,
    tools: Array<{ info: T; hash: string }>,
  ): Promise<{ allowed: T[]; withheld: string[] }> {
    let pins: Map<string, ToolPin>;
    try {
      pins = await this.#store.forServer(serverId);
      this.#lastPins.set(serverId, pins);
    } catch (err) {
      // The store is unreachable (PostgreSQL down): judge by the pins read last. Tools never
      // seen cannot be pinned now and pass; the next listing pins them.
      this.#onStoreError(err);
      pins = this.#lastPins.get(serverId) ?? new Map();
    }
    const allowed: T[] = [];
    const withheld: string[] = [];
    for (const { info, hash } of tools) {
      const pin = pins.get(info.name);
      if (pin === undefined) {
        await this.#store.pin(serverId, info.name, hash).catch(this.#onStoreError);
        allowed.push(info);
      } else if (pin.hash === hash) {
        allowed.push(info);
      } else {
        withheld.push(info.name);
        await this.#store.markPending(serverId, info.name, hash).catch(this.#onStoreError);
        const once = `${orgId}\n${serverId}\n${info.name}\n${hash}`;
        if (!this.#reported.has(once)) {
          this.#reported.add(once);
          this.#onWithheld({
            org_id: orgId,
            server_id: serverId,
            tool: info.name,
            pinned_hash: pin.hash,
            seen_hash: hash,
          });
        }
      }
    }
    return { allowed, withheld };
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
