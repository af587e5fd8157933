import { entity, rpc } from 'p2pgen';

@entity.name('document-edit')
export class DocumentEdit {
  constructor(
    public documentId: string,
    public userId: string,
    public operation: 'insert' | 'delete' | 'replace',
    public position: number,
    public content: string,
    public timestamp: Date = new Date(),
  ) {}
}

@rpc.controller('/collaboration')
export class CollaborationController {
  private document: string = '';
  private edits: DocumentEdit[] = [];
  private collaborators = new Set<string>();

  @rpc.action()
  joinDocument(documentId: string, userId: string): { document: string; edits: DocumentEdit[] } {
    this.collaborators.add(userId);
    return {
      document: this.document,
      edits: this.edits,
    };
  }

  @rpc.action()
  applyEdit(edit: DocumentEdit): void {
    this.edits.push(edit);
    this.applyEditToDocument(edit);
    console.log(`Edit applied by ${edit.userId}: ${edit.operation} at ${edit.position}`);
  }

  @rpc.action()
  leaveDocument(userId: string): void {
    this.collaborators.delete(userId);
  }

  @rpc.action()
  getCollaborators(): string[] {
    return Array.from(this.collaborators);
  }

  private applyEditToDocument(edit: DocumentEdit): void {
    switch (edit.operation) {
      case 'insert':
        this.document = this.document.slice(0, edit.position) + edit.content + this.document.slice(edit.position);
        break;
      case 'delete':
        this.document = this.document.slice(0, edit.position) + this.document.slice(edit.position + edit.content.length);
        break;
      case 'replace':
        this.document = this.document.slice(0, edit.position) + edit.content + this.document.slice(edit.position + 1);
        break;
    }
  }
}
