/**
 * Which peer ids a broker takes, beyond what a peer id is (wire/peer-id.ts: 1 to 255 UTF-8
 * bytes of well-formed Unicode). Some ids look like others: a zero-width space after `cli`, a
 * right-to-left override before it, a Cyrillic `а` in `admin`. The broker refuses ids with
 * control and format characters by default ('printable'), all but printable ASCII on request
 * ('ascii'), nothing ('any'), or what the operator's function says.
 */

/** `'printable'`, `'ascii'`, `'any'`, or a function saying why an id is refused (undefined: taken). */
export type PeerIdPolicy = 'printable' | 'ascii' | 'any' | ((peerId: string) => string | undefined);

const CONTROL_OR_FORMAT = /[\p{Cc}\p{Cf}]/u;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/** Why `policy` refuses `peerId`, or undefined when it takes it. */
export function peerIdRefusal(policy: PeerIdPolicy, peerId: string): string | undefined {
  switch (policy) {
    case 'any':
      return undefined;
    case 'printable': {
      const found = CONTROL_OR_FORMAT.exec(peerId);
      return found ? `it holds a control or format character (${codePoint(found[0])}), which makes ids that look like others` : undefined;
    }
    case 'ascii':
      return PRINTABLE_ASCII.test(peerId) ? undefined : 'only printable ASCII characters (no spaces) are taken';
    default:
      return policy(peerId);
  }
}

/** An id as it can be shown in a message: control, format and non-ASCII characters as \u{…}. */
export function shownPeerId(peerId: string): string {
  return peerId.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

function codePoint(character: string): string {
  return `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}
