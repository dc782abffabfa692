/**
 * Event ids the file store has written, held without an object per id.
 *
 * The file store checks every incoming event against every id in its files (a retried batch
 * must not be written twice), and a store that keeps a gigabyte of JSON lines holds over a
 * million ids. As strings in a Set they cost ≈ 95 bytes each, the garbage collector traces every
 * one of them, and at full rate the Set work was ≈ 30% of the audit thread's CPU. The runtime
 * gives every event a UUID in canonical form (36 characters, lowercase hex): those are kept here
 * as 128-bit keys in typed arrays. Any other id (the store accepts any string) goes to a plain
 * Set beside them, so the sets behave exactly like a Set<string>.
 */

const SCRATCH = new Uint32Array(4);

/** Lowercase hex digit → its value; -1 for anything else (codes below 128). */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = i;

/** Eight hex digits from `from` as one word; -1 if any is not one (a word can never be -1). */
function hexWord(id: string, from: number, gap: number): number {
  let word = 0;
  for (let i = from; i < from + 8 + (gap >= 0 ? 1 : 0); i++) {
    if (i === gap) continue;
    const c = id.charCodeAt(i);
    const v = c < 128 ? HEX[c]! : -1;
    if (v < 0) return -1;
    word = (word << 4) | v;
  }
  return word >>> 0;
}

/**
 * Parses a canonical UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, lowercase) into SCRATCH as
 * four words; false for any other string.
 */
function toKey(id: string): boolean {
  if (
    id.length !== 36 ||
    id.charCodeAt(8) !== 0x2d ||
    id.charCodeAt(13) !== 0x2d ||
    id.charCodeAt(18) !== 0x2d ||
    id.charCodeAt(23) !== 0x2d
  ) {
    return false;
  }
  const a = hexWord(id, 0, -1);
  const b = hexWord(id, 9, 13); // 4 digits, the dash, 4 digits
  const c = hexWord(id, 19, 23);
  const d = hexWord(id, 28, -1);
  if (a < 0 || b < 0 || c < 0 || d < 0) return false;
  SCRATCH[0] = a;
  SCRATCH[1] = b;
  SCRATCH[2] = c;
  SCRATCH[3] = d;
  return true;
}

function mix(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b);
  h ^= Math.imul(c ^ (d >>> 7) ^ (d << 11), 0xc2b2ae35);
  return h ^ (h >>> 15);
}

/** Ids in the order they were added, compact: what one file holds, to forget when it goes. */
export class EventIdList {
  #words = new Uint32Array(64);
  #count = 0;
  readonly #others: string[] = [];

  get length(): number {
    return this.#count + this.#others.length;
  }

  push(id: string): void {
    if (toKey(id)) this.#append();
    else this.#others.push(id);
  }

  /** A new list of the ids not in `drop`. */
  without(drop: EventIdSet): EventIdList {
    const kept = new EventIdList();
    this.forEachKey((a, b, c, d) => {
      if (!drop.hasKey(a, b, c, d)) kept.#pushKey(a, b, c, d);
    });
    for (const id of this.#others) if (!drop.has(id)) kept.#others.push(id);
    return kept;
  }

  /** Each UUID id as its four words; then `others` gets the ids of any other form. */
  forEachKey(visit: (a: number, b: number, c: number, d: number) => void, others?: (id: string) => void): void {
    const w = this.#words;
    for (let i = 0; i < this.#count * 4; i += 4) visit(w[i]!, w[i + 1]!, w[i + 2]!, w[i + 3]!);
    if (others) for (const id of this.#others) others(id);
  }

  #pushKey(a: number, b: number, c: number, d: number): void {
    SCRATCH[0] = a;
    SCRATCH[1] = b;
    SCRATCH[2] = c;
    SCRATCH[3] = d;
    this.#append();
  }

  /** Appends the key in SCRATCH. */
  #append(): void {
    if ((this.#count + 1) * 4 > this.#words.length) {
      const grown = new Uint32Array(this.#words.length * 2);
      grown.set(this.#words);
      this.#words = grown;
    }
    this.#words.set(SCRATCH, this.#count * 4);
    this.#count++;
  }
}

/** A set of ids: an open-addressing table (linear probing) of 128-bit keys, plus a Set for other forms. */
export class EventIdSet {
  #words: Uint32Array;
  #used: Uint8Array;
  #mask: number;
  #count = 0;
  readonly #others = new Set<string>();

  /** `slots` (a power of two) is where the table starts; it doubles at three quarters full. */
  constructor(slots = 1024) {
    if (!Number.isInteger(Math.log2(slots)) || slots < 2) throw new RangeError('slots must be a power of two >= 2');
    this.#words = new Uint32Array(slots * 4);
    this.#used = new Uint8Array(slots);
    this.#mask = slots - 1;
  }

  get size(): number {
    return this.#count + this.#others.size;
  }

  has(id: string): boolean {
    if (!toKey(id)) return this.#others.has(id);
    return this.#find(SCRATCH[0]!, SCRATCH[1]!, SCRATCH[2]!, SCRATCH[3]!) >= 0;
  }

  hasKey(a: number, b: number, c: number, d: number): boolean {
    return this.#find(a, b, c, d) >= 0;
  }

  /** Adds `id`; false when it was there already. */
  add(id: string): boolean {
    if (!toKey(id)) {
      if (this.#others.has(id)) return false;
      this.#others.add(id);
      return true;
    }
    return this.#addKey(SCRATCH[0]!, SCRATCH[1]!, SCRATCH[2]!, SCRATCH[3]!);
  }

  delete(id: string): boolean {
    if (!toKey(id)) return this.#others.delete(id);
    const at = this.#find(SCRATCH[0]!, SCRATCH[1]!, SCRATCH[2]!, SCRATCH[3]!);
    if (at < 0) return false;
    this.#removeAt(at);
    return true;
  }

  /** Deletes every id of `list`. */
  deleteAll(list: EventIdList): void {
    list.forEachKey(
      (a, b, c, d) => {
        const at = this.#find(a, b, c, d);
        if (at >= 0) this.#removeAt(at);
      },
      (id) => this.#others.delete(id),
    );
  }

  /** The slot holding the key, or -1. */
  #find(a: number, b: number, c: number, d: number): number {
    const i = this.#probe(a, b, c, d);
    return this.#used[i] === 1 ? i : -1;
  }

  /** The slot holding the key, or else the empty slot where it would go. */
  #probe(a: number, b: number, c: number, d: number): number {
    const w = this.#words;
    const used = this.#used;
    const mask = this.#mask;
    let i = mix(a, b, c, d) & mask;
    for (; used[i] === 1; i = (i + 1) & mask) {
      const o = i * 4;
      if (w[o] === a && w[o + 1] === b && w[o + 2] === c && w[o + 3] === d) break;
    }
    return i;
  }

  #addKey(a: number, b: number, c: number, d: number): boolean {
    if ((this.#count + 1) * 4 > this.#used.length * 3) this.#grow();
    const i = this.#probe(a, b, c, d);
    if (this.#used[i] === 1) return false;
    const o = i * 4;
    this.#words[o] = a;
    this.#words[o + 1] = b;
    this.#words[o + 2] = c;
    this.#words[o + 3] = d;
    this.#used[i] = 1;
    this.#count++;
    return true;
  }

  /**
   * Empties slot `i` and shifts back the entries after it that would otherwise be cut off from
   * their home slot (deletion without tombstones, so lookups never slow down with churn).
   */
  #removeAt(i: number): void {
    const w = this.#words;
    const used = this.#used;
    const mask = this.#mask;
    used[i] = 0;
    this.#count--;
    let hole = i;
    for (let j = (hole + 1) & mask; used[j] === 1; j = (j + 1) & mask) {
      const o = j * 4;
      const home = mix(w[o]!, w[o + 1]!, w[o + 2]!, w[o + 3]!) & mask;
      // The entry at j may stay if its home lies cyclically in (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      w.copyWithin(hole * 4, o, o + 4);
      used[hole] = 1;
      used[j] = 0;
      hole = j;
    }
  }

  #grow(): void {
    const words = this.#words;
    const used = this.#used;
    this.#words = new Uint32Array(words.length * 2);
    this.#used = new Uint8Array(used.length * 2);
    this.#mask = this.#used.length - 1;
    this.#count = 0;
    for (let i = 0; i < used.length; i++) {
      if (used[i] !== 1) continue;
      const o = i * 4;
      this.#addKey(words[o]!, words[o + 1]!, words[o + 2]!, words[o + 3]!);
    }
  }
}
