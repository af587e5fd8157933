/**
 * The broker's table of peer ids, found from the UTF-8 bytes a Request carries. An entry of an
 * ASCII id keeps no bytes (its string's char codes are its bytes); one beyond ASCII keeps them;
 * both must be found from frame bytes anywhere in a frame, never by a near miss, also when two
 * ids hash alike and when an ASCII entry gets its bytes later.
 */
import { describe, expect, it } from 'vitest';
import { hashBytes, ownUtf8, PeerIdTable } from '../runtime/broker/peer-id-table.js';

class Entry {
  utf8: Uint8Array | undefined;
  constructor(readonly id: string) {
    this.utf8 = ownUtf8(id, Buffer.from(id, 'utf8'));
  }
}

/** `id`'s UTF-8 bytes inside a larger frame, as the router sees a target: [start, end). */
function inFrame(id: string): [Uint8Array, number, number] {
  const bytes = Buffer.from(id, 'utf8');
  const frame = Buffer.concat([Buffer.from([1, 2, 3, 4, 5]), bytes, Buffer.from([9, 9])]);
  return [frame, 5, 5 + bytes.length];
}

describe('PeerIdTable', () => {
  it('keeps no bytes for an ASCII id and its UTF-8 bytes for any other', () => {
    expect(new Entry('worker-7').utf8).toBeUndefined();
    expect([...new Entry('pé').utf8!]).toEqual([0x70, 0xc3, 0xa9]);
    expect([...new Entry('日本').utf8!]).toEqual([...Buffer.from('日本')]);
    expect([...new Entry('a😀').utf8!]).toEqual([0x61, 0xf0, 0x9f, 0x98, 0x80]);
  });

  it('finds every id from its bytes inside a frame, and nothing from a near miss', () => {
    const ids = ['a', 'worker-7', 'pé', 'é', '日本', 'a😀', 'x'.repeat(255)];
    const table = new PeerIdTable<Entry>();
    const entries = ids.map((id) => new Entry(id));
    for (const entry of entries) table.add(entry);
    for (const entry of entries) expect(table.find(...inFrame(entry.id))).toBe(entry);
    const misses = ['', 'worker-', 'worker-77', 'Worker-7', 'p', 'pe', 'x'.repeat(254)];
    for (const id of misses) expect(table.find(...inFrame(id)), id).toBeUndefined();
    // 'é' is 0xC3 0xA9 in UTF-8: its Latin-1 byte, 0xE9, is not it.
    expect(table.find(Uint8Array.of(0xe9))).toBeUndefined();
  });

  it('tells apart two ids that hash alike, an ASCII one and one beyond ASCII, and removes exactly the one asked', () => {
    const [ascii, other] = ['peer-33631', 'pé-481610'];
    const asciiBytes = Buffer.from(ascii);
    const otherBytes = Buffer.from(other);
    expect(hashBytes(asciiBytes, 0, asciiBytes.length)).toBe(hashBytes(otherBytes, 0, otherBytes.length));
    const table = new PeerIdTable<Entry>();
    const a = new Entry(ascii);
    const b = new Entry(other);
    table.add(a);
    table.add(b);
    expect(table.find(asciiBytes)).toBe(a);
    expect(table.find(otherBytes)).toBe(b);
    expect(table.remove(a)).toBe(true);
    expect(table.find(asciiBytes)).toBeUndefined();
    expect(table.find(otherBytes)).toBe(b);
    expect(table.remove(a)).toBe(false);
    expect(table.size).toBe(1);
  });

  it('still finds and removes an ASCII entry that got its bytes after it was added', () => {
    const table = new PeerIdTable<Entry>();
    const entry = new Entry('caller-1');
    table.add(entry);
    entry.utf8 = Buffer.from('caller-1', 'latin1');
    expect(table.find(...inFrame('caller-1'))).toBe(entry);
    expect(table.remove(entry)).toBe(true);
    expect(table.size).toBe(0);
  });
});
