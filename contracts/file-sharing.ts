import { entity, rpc } from 'p2pgen';
import { Observable } from 'rxjs';

@entity.name('file-chunk')
export class FileChunk {
  constructor(
    public fileId: string,
    public chunkIndex: number,
    public totalChunks: number,
    public data: Uint8Array,
    public checksum: string,
  ) {}
}

@rpc.controller('/file-sharing')
export class FileSharingController {
  private receivedChunks = new Map<string, Map<number, FileChunk>>();
  private sharedFiles = new Map<string, Uint8Array>();

  @rpc.action()
  shareFile(fileId: string, fileName: string, fileData: Uint8Array): void {
    this.sharedFiles.set(fileId, fileData);
    console.log(`File ${fileName} (${fileId}) is now available for sharing`);
  }

  @rpc.action()
  requestFile(fileId: string): Observable<FileChunk> {
    const fileData = this.sharedFiles.get(fileId);
    if (!fileData) {
      throw new Error(`File ${fileId} not found`);
    }

    return new Observable((observer) => {
      const chunkSize = 64 * 1024; // 64KB chunks
      const totalChunks = Math.ceil(fileData.length / chunkSize);
      let cancelled = false;

      // One chunk after another: the checksum (SHA-256 through WebCrypto) is asynchronous.
      (async () => {
        for (let i = 0; i < totalChunks && !cancelled; i++) {
          const start = i * chunkSize;
          const end = Math.min(start + chunkSize, fileData.length);
          const chunkData = fileData.slice(start, end);

          const chunk = new FileChunk(fileId, i, totalChunks, chunkData, await this.calculateChecksum(chunkData));

          await new Promise((resolve) => setTimeout(resolve, 10)); // Throttle chunks
          if (!cancelled) observer.next(chunk);
        }
        if (!cancelled) observer.complete();
      })().catch((error) => observer.error(error));

      return () => {
        cancelled = true;
      };
    });
  }

  @rpc.action()
  receiveFileChunk(chunk: FileChunk): void {
    if (!this.receivedChunks.has(chunk.fileId)) {
      this.receivedChunks.set(chunk.fileId, new Map());
    }

    const fileChunks = this.receivedChunks.get(chunk.fileId)!;
    fileChunks.set(chunk.chunkIndex, chunk);

    console.log(`Received chunk ${chunk.chunkIndex + 1}/${chunk.totalChunks} for file ${chunk.fileId}`);

    // Check if file is complete
    if (fileChunks.size === chunk.totalChunks) {
      this.assembleFile(chunk.fileId);
    }
  }

  private assembleFile(fileId: string): void {
    const chunks = this.receivedChunks.get(fileId)!;
    const sortedChunks = Array.from(chunks.values()).sort((a, b) => a.chunkIndex - b.chunkIndex);

    const totalSize = sortedChunks.reduce((sum, chunk) => sum + chunk.data.length, 0);
    const assembledFile = new Uint8Array(totalSize);

    let offset = 0;
    for (const chunk of sortedChunks) {
      assembledFile.set(chunk.data, offset);
      offset += chunk.data.length;
    }

    this.sharedFiles.set(fileId, assembledFile);
    console.log(`File ${fileId} assembled successfully (${totalSize} bytes)`);
  }

  private async calculateChecksum(data: Uint8Array): Promise<string> {
    // SHA-256 through WebCrypto (Node and browsers), as hex
    const digest = await crypto.subtle.digest('SHA-256', data as BufferSource);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  }
}
