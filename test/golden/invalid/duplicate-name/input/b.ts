export class Item {
  count = 0;
}
