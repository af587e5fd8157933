/**
 * The proxy of a controller on another peer, built by the runtime from the generated action
 * descriptors: one method per action, named after it, calling (or, for an Observable result,
 * streaming) through the channel it was made with, with the arguments as given.
 */
import { describe, expect, it } from 'vitest';
import type { ActionDescriptor, PeerChannel } from '../runtime/contracts/descriptors.js';
import { contracts } from '../generated/index.js';

function recordingChannel() {
  const calls: { via: 'call' | 'stream'; action: string; args: readonly unknown[] }[] = [];
  const channel: PeerChannel = {
    call: async (action: ActionDescriptor, args: readonly unknown[]) => void calls.push({ via: 'call', action: action.name, args }) as never,
    stream: async (action: ActionDescriptor, args: readonly unknown[]) => void calls.push({ via: 'stream', action: action.name, args }) as never,
  };
  return { channel, calls };
}

describe('controller proxies', () => {
  const fileSharing = contracts.controllers.find((c) => c.path === '/file-sharing')!;

  it('have one method per action, named after it, and nothing else of their own', () => {
    const proxy = fileSharing.createProxy(recordingChannel().channel) as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const methods = Object.keys(Object.getPrototypeOf(proxy));
    expect(methods).toEqual(fileSharing.actions.map((a) => a.name));
    expect(methods.map((m) => proxy[m]!.name)).toEqual(methods);
    expect(Object.keys(proxy)).toEqual([]);
  });

  it('call unary actions and stream Observable ones through their channel, with the arguments as given', async () => {
    const { channel, calls } = recordingChannel();
    const proxy = fileSharing.createProxy(channel) as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const other = recordingChannel();
    fileSharing.createProxy(other.channel);
    await proxy.shareFile!('f1', 'a.txt', new Uint8Array([1]));
    await proxy.requestFile!('f1');
    expect(calls).toEqual([
      { via: 'call', action: 'shareFile', args: ['f1', 'a.txt', new Uint8Array([1])] },
      { via: 'stream', action: 'requestFile', args: ['f1'] },
    ]);
    expect(other.calls).toEqual([]);
  });
});
