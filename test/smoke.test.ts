import { describe, expect, it } from 'vitest';
import { codecs } from '../generated/index.js';
import { ChatMessage } from '../contracts/chat.js';

describe('smoke', () => {
  it('round trips', () => {
    const m = new ChatMessage('a', 'hello', new Date(1234567));
    const bytes = codecs.ChatMessage.encode(m);
    const back = codecs.ChatMessage.decode(bytes);
    expect(back).toBeInstanceOf(ChatMessage);
    expect(back).toEqual(m);
  });
});
