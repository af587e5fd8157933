/**
 * p2pgen's decorators, found by what they resolve to, not by how they are written:
 * `@rpc.controller('/chat')`, `@r.controller(…)` after `import { rpc as r } from 'p2pgen'`, and
 * `@p.rpc.controller(…)` after `import * as p from 'p2pgen'` are all ours; an `rpc` from another
 * module is not. "Ours" means the `rpc`/`entity` object the decorator is called on is declared
 * in the p2pgen runtime the contracts are compiled against (load-project.ts maps 'p2pgen' to it).
 * The same goes for the one type of the runtime an action signature may name outside the
 * contract: CallContext.
 */
import { Node, type Decorator, type Symbol as MorphSymbol, type Type } from 'ts-morph';

export type ContractDecoratorKind = 'controller' | 'action' | 'entityName';

/** `object.method` of each decorator. */
const kinds: Record<string, Record<string, ContractDecoratorKind>> = {
  rpc: { controller: 'controller', action: 'action' },
  entity: { name: 'entityName' },
};

export class ContractDecorators {
  /** `isRuntimeFile(path)`: whether a declaration in that file is p2pgen's own. */
  constructor(private readonly isRuntimeFile: (path: string) => boolean) {}

  /** Which of p2pgen's decorators this is, if it is one. */
  kindOf(decorator: Decorator): ContractDecoratorKind | undefined {
    return this.kindOfCallee(decorator.getCallExpression()?.getExpression());
  }

  /**
   * Which of p2pgen's decorator factories this is when it is written without its call
   * (`@rpc.action` for `@rpc.action()`): the runtime would call the factory with the method,
   * and the generator would not see an action.
   */
  uncalledKindOf(decorator: Decorator): ContractDecoratorKind | undefined {
    return decorator.isDecoratorFactory() ? undefined : this.kindOfCallee(decorator.getExpression());
  }

  private kindOfCallee(callee: Node | undefined): ContractDecoratorKind | undefined {
    if (!callee || !Node.isPropertyAccessExpression(callee)) return undefined;
    const method = callee.getName();
    const target = resolved(callee.getExpression().getSymbol());
    const declaration = target?.getDeclarations()[0];
    if (!target || !declaration || !this.isRuntimeFile(declaration.getSourceFile().getFilePath())) return undefined;
    return kinds[target.getName()]?.[method];
  }

  /** The first decorator of `kind` on a class, method or property. */
  find(node: { getDecorators(): Decorator[] }, kind: ContractDecoratorKind): Decorator | undefined {
    return node.getDecorators().find((d) => this.kindOf(d) === kind);
  }

  has(node: { getDecorators(): Decorator[] }, kind: ContractDecoratorKind): boolean {
    return this.find(node, kind) !== undefined;
  }

  /**
   * Whether `type` is p2pgen's CallContext (`ctx: CallContext`, `ctx?: CallContext`, under any
   * import name), found the same way: declared in the runtime, not by its name alone.
   */
  isCallContext(type: Type): boolean {
    const plain = type.getNonNullableType();
    const symbol = plain.getAliasSymbol() ?? plain.getSymbol();
    if (symbol?.getName() !== 'CallContext') return false;
    return symbol.getDeclarations().some((d) => this.isRuntimeFile(d.getSourceFile().getFilePath()));
  }
}

/** An imported name (or a namespace member) followed to what it stands for. */
function resolved(symbol: MorphSymbol | undefined): MorphSymbol | undefined {
  return symbol?.isAlias() ? symbol.getAliasedSymbol() : symbol;
}
