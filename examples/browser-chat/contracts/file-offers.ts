import { entity, rpc, type MaxLength, type Minimum, type Pattern } from 'p2pgen';

/**
 * A file a peer has shared (`FileSharingController.shareFile`) and tells others about. The
 * receiver asks the peer for it by id (`requestFile`, a stream of chunks) and checks that what
 * arrives hashes to `sha256`.
 */
@entity.name('file-offer')
export class FileOffer {
  constructor(
    public from: string,
    public fileId: string & MaxLength<64>,
    public fileName: string & MaxLength<255>,
    public size: number & Minimum<0>,
    public sha256: string & Pattern<'^[0-9a-f]{64}$'>,
  ) {}
}

/** Where a peer hears of files offered to it. */
@rpc.controller('/file-offers')
export class FileOffersController {
  @rpc.action()
  offer(offer: FileOffer): void {
    console.log(`${offer.from} offers ${offer.fileName} (${offer.size} bytes)`);
  }
}
