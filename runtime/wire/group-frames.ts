/**
 * The frames of group calls (docs/groups.md), binary like the data path:
 *
 * Members (broker -> the caller of a group call), before any answer: who the members are, in
 * the order their answers are numbered (an answer's source field is its member's index).
 *   12-byte header (callId = the caller's call id; MORE when another Members frame follows)
 *   uint32 total members, uint32 index of the first member in this frame,
 *   then per member: uint8 length, the id's UTF-8.
 *
 * GroupRequest (broker -> broker): one message per broker that has members, not one per member.
 *   12-byte header (callId 0), uint16 member count,
 *   then per member: uint32 route id (0: nobody answers), uint8 length, the id's UTF-8,
 *   then the caller's Request frame as it is.
 */
import { FrameFlags, FrameType, HEADER_SIZE, readU32, writeHeader, writeU32 } from './frame.js';

const decoder = new TextDecoder();

/** Members frames of at most about this many bytes each. */
const MEMBERS_FRAME_BYTES = 64 * 1024;

/** The Members frames telling the caller of group call `callId` who its members are (the ids' UTF-8, in answer order). */
export function membersFrames(callId: number, ids: readonly Uint8Array[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let first = 0;
  do {
    let end = first;
    let bytes = HEADER_SIZE + 8;
    while (end < ids.length && bytes + 1 + ids[end]!.length <= MEMBERS_FRAME_BYTES) bytes += 1 + ids[end++]!.length;
    const frame = new Uint8Array(bytes);
    writeHeader(frame, FrameType.Members, end < ids.length ? FrameFlags.More : 0, callId);
    writeU32(frame, HEADER_SIZE, ids.length);
    writeU32(frame, HEADER_SIZE + 4, first);
    let at = HEADER_SIZE + 8;
    for (let i = first; i < end; i++) {
      const id = ids[i]!;
      frame[at++] = id.length;
      frame.set(id, at);
      at += id.length;
    }
    frames.push(frame);
    first = end;
  } while (first < ids.length);
  return frames;
}

/** A Members frame read: every member's id from index `first` on, of `total`; a string when malformed. */
export function readMembers(frame: Uint8Array): { total: number; first: number; ids: string[] } | string {
  if (frame.length < HEADER_SIZE + 8) return 'a Members frame is shorter than its header';
  const total = readU32(frame, HEADER_SIZE);
  const first = readU32(frame, HEADER_SIZE + 4);
  const ids: string[] = [];
  let at = HEADER_SIZE + 8;
  while (at < frame.length) {
    const end = at + 1 + frame[at]!;
    if (end > frame.length) return 'a Members frame ends inside a member id';
    ids.push(decoder.decode(frame.subarray(at + 1, end)));
    at = end;
  }
  if (first + ids.length > total) return 'a Members frame names more members than its total';
  return { total, first, ids };
}

/** A member of a GroupRequest: the route id its answers come back under, and its id's UTF-8. */
export interface GroupRequestMember {
  readonly routeId: number;
  readonly id: Uint8Array;
}

/** Members of one GroupRequest at most (its count is a uint16). */
export const MAX_GROUP_REQUEST_MEMBERS = 0xffff;

/** One GroupRequest: `request` (the caller's Request frame) for `members`, all on the broker it is sent to. */
export function groupRequestFrame(members: readonly GroupRequestMember[], request: Uint8Array): Uint8Array {
  let bytes = HEADER_SIZE + 2 + request.length;
  for (const member of members) bytes += 5 + member.id.length;
  const frame = new Uint8Array(bytes);
  writeHeader(frame, FrameType.GroupRequest, 0, 0);
  frame[HEADER_SIZE] = members.length;
  frame[HEADER_SIZE + 1] = members.length >>> 8;
  let at = HEADER_SIZE + 2;
  for (const member of members) {
    writeU32(frame, at, member.routeId);
    frame[at + 4] = member.id.length;
    frame.set(member.id, at + 5);
    at += 5 + member.id.length;
  }
  frame.set(request, at);
  return frame;
}

/** Where a GroupRequest's members are ([start, end) of each id's UTF-8) and where its Request starts; a string when malformed. */
export function readGroupRequest(frame: Uint8Array): { members: { routeId: number; start: number; end: number }[]; requestStart: number } | string {
  if (frame.length < HEADER_SIZE + 2) return 'a GroupRequest is shorter than its header';
  const count = frame[HEADER_SIZE]! | (frame[HEADER_SIZE + 1]! << 8);
  const members: { routeId: number; start: number; end: number }[] = [];
  let at = HEADER_SIZE + 2;
  for (let i = 0; i < count; i++) {
    if (at + 5 > frame.length) return 'a GroupRequest ends inside its members';
    const start = at + 5;
    const end = start + frame[at + 4]!;
    if (end > frame.length) return 'a GroupRequest ends inside a member id';
    members.push({ routeId: readU32(frame, at), start, end });
    at = end;
  }
  return { members, requestStart: at };
}

/**
 * The route ids of the calls a frame to another broker carries (a Request's one, a
 * GroupRequest's answered members'): what did not arrive when the frame was not delivered.
 */
export function carriedRouteIds(frame: Uint8Array): number[] | undefined {
  if (frame[1] === FrameType.Request) return [readU32(frame, 4)];
  if (frame[1] !== FrameType.GroupRequest) return undefined;
  const read = readGroupRequest(frame);
  if (typeof read === 'string') return undefined;
  const ids = read.members.map((m) => m.routeId).filter((id) => id !== 0);
  return ids.length > 0 ? ids : undefined;
}
