/**
 * Reads a contracts folder into the contract model: finds `@rpc.controller(path)` classes and
 * their `@rpc.action()` methods (decorators resolved by symbol: decorators.ts) and maps every
 * type reachable from the action signatures (type-mapper.ts). Field numbers and fingerprints
 * are left at 0 / '' here; the numbering step fills them in.
 */
import { relative } from 'node:path';
import { Node, type ClassDeclaration, type MethodDeclaration, type SourceFile, type Type } from 'ts-morph';
import {
  MODEL_VERSION,
  type ActionModel,
  type ContractModel,
  type ControllerModel,
  type FieldModel,
  type MessageModel,
  type SourceRef,
} from '../model/contract-model.js';
import { compare, DiagnosticCode, type Diagnostic } from '../diagnostics.js';
import { isProtoIdentifier, pascalCase, protoFieldName } from '../naming.js';
import { createTypeMapper } from './create-type-mapper.js';
import { ContractDecorators } from './decorators.js';
import { reportMisplacedDecorators } from './misplaced-decorators.js';
import { browserImportDiagnostics } from './browser-imports.js';
import { isRuntimeFile, loadContracts, toPosix, type LoadedContracts } from './load-project.js';
import type { TypeMapper } from './type-mapper.js';
import { declaredType } from './type-queries.js';

export interface ReadOptions {
  /** Files under this folder are not contracts (the output folder, when it sits inside). */
  excludeDir?: string;
  protoPackage?: string;
  /**
   * Where the sources sit when that is itself inside a node_modules folder (the scratch copy a
   * git baseline is read from): below it, only a further node_modules holds library code.
   */
  sourceRoot?: string;
  /** The contracts run in browsers too: report imports of Node modules (browser-imports.ts). */
  browser?: boolean;
}

export interface ReadResult {
  model: ContractModel;
  diagnostics: Diagnostic[];
}

export function readContracts(contractsDir: string, options: ReadOptions = {}): ReadResult {
  return readLoadedContracts(loadContracts(contractsDir, options), options);
}

/**
 * The model of contracts already in a ts-morph project (from disk, or in memory for tests).
 * `isRuntimeFile` says which declarations are p2pgen's own (its decorators); by default the
 * runtime this generator compiles contracts against.
 */
export function readLoadedContracts(
  loaded: LoadedContracts,
  options: Pick<ReadOptions, 'protoPackage' | 'sourceRoot' | 'browser'> & { isRuntimeFile?: (path: string) => boolean } = {},
): ReadResult {
  const { contractsDir } = loaded;
  const empty: ContractModel = {
    modelVersion: MODEL_VERSION,
    protoPackage: options.protoPackage ?? 'contracts',
    sources: [],
    controllers: [],
    messages: [],
    unions: [],
    enums: [],
  };
  if (loaded.diagnostics.length > 0) return { model: empty, diagnostics: loaded.diagnostics };

  const root = loaded.contractsDir;
  const locate = (node: Node): SourceRef => {
    const sf = node.getSourceFile();
    const start = Node.isClassDeclaration(node) || Node.isMethodDeclaration(node) ? nameStart(node) : node.getStart();
    const { line, column } = sf.getLineAndColumnAtPos(start);
    return { file: toPosix(relative(root, sf.getFilePath())), line, column };
  };
  const contractFiles = new Set(loaded.files);
  const sourceRoot = options.sourceRoot && `${toPosix(options.sourceRoot)}/`;
  const isLibraryFile = (file: SourceFile) => {
    const path = file.getFilePath();
    return sourceRoot && path.startsWith(sourceRoot) ? `/${path.slice(sourceRoot.length)}`.includes('/node_modules/') : file.isInNodeModules();
  };
  const decorators = new ContractDecorators(options.isRuntimeFile ?? isRuntimeFile);
  const mapper = createTypeMapper(locate, (node) => contractFiles.has(node.getSourceFile()) || !isLibraryFile(node.getSourceFile()), decorators);
  const controllers: ControllerModel[] = [];
  const paths = new Map<string, SourceRef>();

  for (const file of loaded.files) {
    for (const cls of file.getClasses().filter((c) => decorators.has(c, 'controller'))) {
      const controller = readController(cls, mapper, locate);
      if (!controller) continue;
      const previous = paths.get(controller.path);
      if (previous) {
        mapper.report(
          { node: cls, path: cls.getName() ?? '' },
          DiagnosticCode.DuplicateControllerPath,
          `controller path '${controller.path}' is already used by the controller at ${previous.file}:${previous.line}:${previous.column}`,
        );
        continue;
      }
      paths.set(controller.path, controller.source);
      controllers.push(controller);
    }
  }
  reportMisplacedDecorators(loaded.files, decorators, (ctx, code, message) => mapper.report(ctx, code, message));
  if (options.browser) {
    const runtimeFile = options.isRuntimeFile ?? isRuntimeFile;
    mapper.diagnostics.push(...browserImportDiagnostics(loaded.files, root, (file) => Boolean(isLibraryFile(file)) || runtimeFile(file.getFilePath())));
  }
  if (controllers.length === 0 && mapper.diagnostics.length === 0) {
    mapper.diagnostics.push({
      code: DiagnosticCode.NoContracts,
      message: `no @rpc.controller classes found in ${contractsDir}`,
    });
  }

  const model: ContractModel = {
    ...empty,
    sources: loaded.files.map((f) => toPosix(relative(root, f.getFilePath()))).sort(compare),
    controllers: controllers.sort((a, b) => compare(a.path, b.path)),
    messages: [...mapper.named.messages.values()].sort((a, b) => compare(a.name, b.name)),
    unions: [...mapper.named.unions.values()].sort((a, b) => compare(a.name, b.name)),
    enums: [...mapper.named.enums.values()].sort((a, b) => compare(a.name, b.name)),
  };
  return { model, diagnostics: mapper.diagnostics };
}

function nameStart(node: ClassDeclaration | MethodDeclaration): number {
  return node.getNameNode()?.getStart() ?? node.getStart();
}

function readController(cls: ClassDeclaration, mapper: TypeMapper, locate: (n: Node) => SourceRef): ControllerModel | undefined {
  const className = cls.getName() ?? 'AnonymousController';
  const decorator = mapper.decorators.find(cls, 'controller')!;
  const arg = decorator.getArguments()[0];
  const ctx = { node: decorator, path: className };
  if (!arg || !Node.isStringLiteral(arg) || arg.getLiteralValue() === '') {
    mapper.report(ctx, DiagnosticCode.InvalidDecorator, "@rpc.controller needs the path as a string literal, e.g. @rpc.controller('/chat')");
    return undefined;
  }
  if (!cls.isExported()) {
    mapper.report({ node: cls, path: className }, DiagnosticCode.EntityNotExported, `controller class '${className}' must be exported so generated proxies can name its type`);
    return undefined;
  }
  const source = locate(cls);
  const controller: ControllerModel = { path: arg.getLiteralValue(), className, file: source.file, fingerprint: '', actions: [], source };
  const seen = new Set<string>();
  for (const method of cls.getMethods()) {
    const isAction = (m: MethodDeclaration) => mapper.decorators.has(m, 'action');
    if (!isAction(method) && !method.getOverloads().some(isAction)) continue;
    const action = readAction(controller, method, mapper, locate);
    if (!action) continue;
    if (seen.has(action.name)) continue;
    seen.add(action.name);
    controller.actions.push(action);
  }
  return controller;
}

function readAction(
  controller: ControllerModel,
  method: MethodDeclaration,
  mapper: TypeMapper,
  locate: (n: Node) => SourceRef,
): ActionModel | undefined {
  const nameNode = method.getNameNode();
  const name = Node.isStringLiteral(nameNode) ? nameNode.getLiteralValue() : method.getName();
  const path = `${controller.className}.${name}`;
  const ctx = { node: method, path };
  let ok = true;
  if (!isProtoIdentifier(name)) {
    mapper.report(ctx, DiagnosticCode.InvalidActionName, `action name '${name}' is not a valid protobuf identifier (letters, digits and _; not starting with a digit)`);
    ok = false;
  }
  if (method.getOverloads().length > 0) {
    mapper.report(ctx, DiagnosticCode.OverloadedAction, 'overloaded actions cannot be mapped: give each signature its own action');
    ok = false;
  }
  if (method.getTypeParameters().length > 0) {
    mapper.report(ctx, DiagnosticCode.UnresolvedGeneric, `generic action '${name}<${method.getTypeParameters().map((p) => p.getName()).join(', ')}>' cannot be mapped: actions need concrete types`);
    ok = false;
  }
  if (method.isStatic()) {
    mapper.report(ctx, DiagnosticCode.InvalidDecorator, 'static methods cannot be actions');
    ok = false;
  }
  if (!ok) return undefined;

  const owner = `${controller.className}${pascalCase(name)}`;
  const params: FieldModel[] = [];
  const parameters = method.getParameters();
  let context = false;
  parameters.forEach((param, index) => {
    const nameNode = param.getNameNode();
    const paramName = Node.isIdentifier(nameNode) ? nameNode.getText() : `arg${index}`;
    const paramCtx = { node: param, path: `${path}(${paramName})`, owner: `${owner}${pascalCase(paramName)}` };
    if (mapper.decorators.isCallContext(param.getType())) {
      // Not part of the contract: the callee's runtime passes it after the arguments.
      if (index === parameters.length - 1) context = true;
      else mapper.report(paramCtx, DiagnosticCode.UnsupportedType, 'a CallContext parameter must be the last one (the runtime passes it after the arguments)');
      return;
    }
    if (param.isRestParameter()) {
      mapper.report(paramCtx, DiagnosticCode.UnsupportedType, 'rest parameters cannot be mapped: take an array instead');
      return;
    }
    const optional = param.isOptional();
    const type = declaredType(param, optional) ?? param.getType();
    const mapped = mapper.mapField(type, paramCtx, optional);
    if (mapped) params.push({ name: paramName, protoName: protoFieldName(paramName), number: 0, ...mapped, source: locate(param) });
  });

  const returnCtx = { node: method, path: `${path}:return`, owner: `${owner}Result` };
  const { type: resultType, kind } = unwrapResult(method);
  let result: FieldModel | undefined;
  if (resultType && !isVoidLike(resultType)) {
    const mapped = mapper.mapField(resultType, kind === 'stream' ? { ...returnCtx, owner: `${owner}Item` } : returnCtx);
    if (!mapped) return undefined;
    result = { name: 'value', protoName: 'value', number: 0, ...mapped };
  }

  const source = locate(method);
  const request: MessageModel = {
    name: `${owner}Request`,
    origin: { kind: 'request', controller: controller.path, action: name },
    fields: params,
    reserved: [],
    source,
  };
  const response: MessageModel = {
    name: `${owner}Response`,
    origin: { kind: 'response', controller: controller.path, action: name },
    fields: result ? [result] : [],
    reserved: [],
    source,
  };
  for (const message of [request, response]) {
    if (mapper.named.messages.has(message.name)) {
      mapper.report(ctx, DiagnosticCode.NameCollision, `the generated message name '${message.name}' is already taken by a contract type`);
      return undefined;
    }
    mapper.named.messages.set(message.name, message);
  }
  return { name, kind, request: request.name, response: response.name, fingerprint: '', ...(context ? { context: true as const } : {}), source };
}

/** `Promise<T>` gives T; `Observable<T>` (or a Promise of one) makes a stream of T. */
function unwrapResult(method: MethodDeclaration): { type: Type | undefined; kind: 'unary' | 'stream' } {
  let type = method.getReturnType();
  if (type.getSymbol()?.getName() === 'Promise') type = type.getTypeArguments()[0] ?? type;
  if (type.getSymbol()?.getName() === 'Observable') {
    return { type: type.getTypeArguments()[0], kind: 'stream' };
  }
  return { type, kind: 'unary' };
}

function isVoidLike(type: Type): boolean {
  return type.isVoid() || type.isUndefined();
}
