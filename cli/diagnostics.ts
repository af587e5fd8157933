/**
 * Located diagnostics for contracts the generator cannot map. Each carries a stable code,
 * `file:line:col`, the element path (`ChatPeerController.sendMessage(message).meta`) and the
 * offending type, and prints the way `tsc` does, with one line of source under it.
 */

export const DiagnosticCode = {
  FolderNotFound: 'P2P1001',
  NoContracts: 'P2P1002',
  SyntaxError: 'P2P1003',
  DuplicateControllerPath: 'P2P1004',
  DuplicateEntityName: 'P2P1005',
  AnyOrUnknown: 'P2P1006',
  FunctionType: 'P2P1007',
  UnresolvedGeneric: 'P2P1008',
  OverloadedAction: 'P2P1009',
  InvalidActionName: 'P2P1010',
  UnsupportedType: 'P2P1011',
  EntityNotExported: 'P2P1012',
  InvalidDecorator: 'P2P1013',
  InvalidConstraint: 'P2P1014',
  UnsupportedUnion: 'P2P1015',
  NameCollision: 'P2P1016',
  UnsupportedMapKey: 'P2P1017',
  UnresolvedType: 'P2P1018',
  ActionOutsideController: 'P2P1019',
  DecoratorNotCalled: 'P2P1020',
  NodeModuleInBrowserContract: 'P2P1021',
  InvalidLock: 'P2P1022',
} as const;
export type DiagnosticCode = (typeof DiagnosticCode)[keyof typeof DiagnosticCode];

export interface Diagnostic {
  code: DiagnosticCode;
  message: string;
  /** Relative to the current working directory when printed; relative to the contracts folder in the model. */
  file?: string;
  line?: number;
  column?: number;
  /** Where in the contract the problem is, e.g. `BadFn.take(value).onDone`. */
  elementPath?: string;
  /** The TypeScript type as written or inferred. */
  typeText?: string;
  /** The source line the location points into. */
  sourceLine?: string;
}

/** Thrown by the generator when the contracts cannot be mapped; carries every diagnostic of the run. */
export class ContractDiagnosticsError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'ContractDiagnosticsError';
  }
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file ? `${d.file}${d.line ? `:${d.line}:${d.column ?? 1}` : ''} - ` : '';
  const subject = d.elementPath ? `${d.elementPath}: ` : '';
  const type = d.typeText ? ` (type: ${d.typeText})` : '';
  let text = `${where}error ${d.code}: ${subject}${d.message}${type}`;
  if (d.sourceLine !== undefined && d.column) {
    const gutter = `${d.line} | `;
    text += `\n\n  ${gutter}${d.sourceLine}\n  ${' '.repeat(gutter.length + d.column - 1)}^\n`;
  }
  return text;
}

/** Stable order: by file, line, column, then code and message. */
export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return [...list].sort(
    (a, b) =>
      compare(a.file ?? '', b.file ?? '') ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      compare(a.code, b.code) ||
      compare(a.message, b.message),
  );
}

/** Code-unit comparison, independent of locale. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
