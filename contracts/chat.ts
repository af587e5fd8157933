import { entity, rpc } from 'p2pgen';

@entity.name('chat-message')
export class ChatMessage {
  constructor(
    public from: string,
    public message: string,
    public timestamp: Date = new Date(),
  ) {}
}

@rpc.controller('/chat')
export class ChatPeerController {
  private messages: ChatMessage[] = [];

  @rpc.action()
  sendMessage(message: ChatMessage): void {
    this.messages.push(message);
    console.log(`Received message from ${message.from}: ${message.message}`);
  }

  @rpc.action()
  getMessages(): ChatMessage[] {
    return this.messages;
  }

  @rpc.action()
  clearMessages(): void {
    this.messages = [];
  }
}
