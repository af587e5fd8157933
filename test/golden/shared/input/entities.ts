// Entities two controllers share.
import { entity } from 'p2pgen';

@entity.name('user')
export class User {
  constructor(
    public id: string,
    public name: string,
  ) {}
}

export interface Page {
  items: User[];
  next?: string;
}
