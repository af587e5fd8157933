import { entity, rpc } from 'p2pgen';
import { Item as OtherItem } from './b.js';

@entity.name('item')
export class Item {
  label = '';
}

@rpc.controller('/items')
export class ItemsController {
  @rpc.action()
  put(item: Item, other: OtherItem): void {}
}
