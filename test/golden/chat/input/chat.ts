// The seed's chat contract (API.md), as a user writes it.
import { entity, rpc, type int32, type MaxLength } from 'p2pgen';
import { Observable } from 'rxjs';

@entity.name('chat-message')
export class ChatMessage {
  constructor(
    public from: string & MaxLength<50>,
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
  }

  @rpc.action()
  getMessages(): ChatMessage[] {
    return this.messages;
  }

  @rpc.action()
  stream(from: int32): Observable<ChatMessage> {
    return new Observable((subscriber) => {
      for (const m of this.messages.slice(from)) subscriber.next(m);
      subscriber.complete();
    });
  }
}
