// One of each construct the type table maps: enums, literal unions, a discriminated and a
// primitive union, presence, lists, maps, records, anonymous types and constraint brands.
import { rpc, type Email, type int32, type Maximum, type Minimum, type Pattern } from 'p2pgen';

export enum Priority {
  Low,
  High,
}

export type Status = 'open' | 'closed';

export type Shape = { kind: 'circle'; radius: number } | { kind: 'square'; side: number };

export interface Contact {
  email: string & Email;
  code?: string & Pattern<'^[A-Z]{2}[0-9]{4}$'>;
  age: int32 & Minimum<0> & Maximum<150>;
  nickname: string | null;
}

export interface Ticket {
  id: string;
  priority: Priority;
  status: Status;
  shape: Shape;
  value: string | number | Date;
  tags: string[];
  watchers: Map<string, Contact>;
  counts: Record<string, int32>;
  opened: Date;
  closed?: Date;
  note?: string | null;
}

@rpc.controller('/tickets')
export class TicketController {
  @rpc.action()
  open(ticket: Ticket, notify?: boolean): { id: string; queued: int32 } {
    return { id: ticket.id, queued: notify ? 1 : 0 };
  }

  @rpc.action()
  find(status: Status, limit: int32 = 10): Ticket[] {
    return [];
  }

  @rpc.action()
  async contact(id: string): Promise<Contact | undefined> {
    return undefined;
  }
}
