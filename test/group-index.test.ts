/**
 * The broker's index of who serves which controller and who is in which group, fed by the
 * directory's events as a broker feeds it: ids of one connection share its announcement (one
 * array), and the index follows them through joins, re-announcements, group changes and leaves.
 */
import { describe, expect, it } from 'vitest';
import { routingKey } from '../runtime/contracts/define.js';
import { GroupIndex } from '../runtime/broker/group-index.js';
import type { PeerRegistration } from '../runtime/broker/peer-directory.js';
import type { ControllerInfo } from '../runtime/wire/control.js';

function announcement(...paths: string[]): readonly ControllerInfo[] {
  return paths.map((path) => ({ path, fingerprint: '0123456789abcdef', actions: [] }));
}

/** A registration as the index sees it: its id, its connection's announcement, its groups. */
function registration(id: string, controllers: readonly ControllerInfo[], groups: string[] = []): PeerRegistration {
  return { id, active: true, controllers, groups: new Set(groups) } as unknown as PeerRegistration;
}

function serving(index: GroupIndex, path: string): string[] {
  return [...index.serving(routingKey(path))].flatMap((announcement) => [...index.holders(announcement)].map((r) => r.id)).sort();
}

describe('GroupIndex', () => {
  it('finds every id serving a controller, across the announcements that have it', () => {
    const index = new GroupIndex();
    const a = announcement('/chat', '/files');
    const b = announcement('/chat');
    for (const id of ['a1', 'a2', 'a3']) index.joined(registration(id, a));
    index.joined(registration('b1', b));
    index.joined(registration('idle', announcement()));
    expect(serving(index, '/chat')).toEqual(['a1', 'a2', 'a3', 'b1']);
    expect(serving(index, '/files')).toEqual(['a1', 'a2', 'a3']);
    expect(serving(index, '/nothing')).toEqual([]);
  });

  it('follows a connection that announces again, and forgets an announcement with its last holder', () => {
    const index = new GroupIndex();
    const before = announcement('/chat', '/files');
    const ids = ['c1', 'c2'].map((id) => registration(id, before));
    for (const r of ids) index.joined(r);
    // The connection announced again: a new array, and the directory says its ids changed.
    const after = announcement('/files');
    for (const r of ids) (r as { controllers: readonly ControllerInfo[] }).controllers = after;
    index.changed(ids);
    expect(serving(index, '/chat')).toEqual([]);
    expect(serving(index, '/files')).toEqual(['c1', 'c2']);
    expect(index.serves(ids[0]!, routingKey('/files'))).toBe(true);
    expect(index.serves(ids[0]!, routingKey('/chat'))).toBe(false);
    index.left(ids[0]!);
    expect(serving(index, '/files')).toEqual(['c2']);
    index.left(ids[1]!);
    expect(serving(index, '/files')).toEqual([]);
    expect([...index.serving(routingKey('/files'))]).toEqual([]);
  });

  it('keeps group members apart from what they serve', () => {
    const index = new GroupIndex();
    const serves = announcement('/echo');
    const m1 = registration('m1', serves, ['room']);
    const m2 = registration('m2', announcement(), ['room']);
    index.joined(m1);
    index.joined(m2);
    expect([...index.members('room')].map((r) => r.id).sort()).toEqual(['m1', 'm2']);
    expect(index.serves(m2, routingKey('/echo'))).toBe(false);
    (m1 as { groups: ReadonlySet<string> }).groups = new Set();
    index.changed([m1]);
    expect([...index.members('room')].map((r) => r.id)).toEqual(['m2']);
    expect(serving(index, '/echo')).toEqual(['m1']);
  });
});
