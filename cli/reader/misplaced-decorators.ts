/**
 * p2pgen's decorators where the generator would otherwise drop them without a word, each a
 * located diagnostic: a decorator factory written without its call (`@rpc.action` for
 * `@rpc.action()`), and `@rpc.action()` methods in a class that has no `@rpc.controller` (they
 * belong to no contract; a controller's inherited methods are not read either).
 */
import { Node, SyntaxKind, type Decorator, type SourceFile } from 'ts-morph';
import { DiagnosticCode, type Diagnostic } from '../diagnostics.js';
import type { ContractDecoratorKind, ContractDecorators } from './decorators.js';

type Report = (ctx: { node: Node; path: string }, code: Diagnostic['code'], message: string) => void;

/** How each factory is called, for the message. */
const calledAs: Record<ContractDecoratorKind, (written: string) => string> = {
  action: (written) => `${written}()`,
  controller: (written) => `${written}('/chat')`,
  entityName: (written) => `${written}('chat-message')`,
};

export function reportMisplacedDecorators(files: readonly SourceFile[], decorators: ContractDecorators, report: Report): void {
  for (const file of files) {
    const uncalledControllers = new Set<Node>();
    for (const decorator of file.getDescendantsOfKind(SyntaxKind.Decorator)) {
      const kind = decorators.uncalledKindOf(decorator);
      if (!kind) continue;
      const written = `@${decorator.getExpression().getText()}`;
      if (kind === 'controller') uncalledControllers.add(decorator.getParent());
      report(
        { node: decorator, path: elementName(decorator) },
        DiagnosticCode.DecoratorNotCalled,
        `${written} is a decorator factory: call it, ${calledAs[kind](written)}; without the call p2pgen does not see it and the runtime misuses it`,
      );
    }
    for (const cls of file.getDescendantsOfKind(SyntaxKind.ClassDeclaration)) {
      if (decorators.has(cls, 'controller') || uncalledControllers.has(cls)) continue;
      const actions = cls.getMethods().filter((m) => decorators.has(m, 'action') || m.getOverloads().some((o) => decorators.has(o, 'action')));
      if (actions.length === 0) continue;
      const name = cls.getName() ?? 'an anonymous class';
      report(
        { node: cls, path: cls.getName() ?? '' },
        DiagnosticCode.ActionOutsideController,
        `class ${name} has @rpc.action() methods (${actions.map((m) => m.getName()).join(', ')}) but no @rpc.controller, so they belong to no contract: ` +
          `add @rpc.controller('/path') to the class (a controller's actions are the ones it declares itself; inherited ones are not read)`,
      );
    }
  }
}

/** `ChatPeerController.sendMessage`, `ChatPeerController`: what the decorator sits on. */
function elementName(decorator: Decorator): string {
  const owner = decorator.getParent();
  const className = (node: Node | undefined) => (node && Node.isClassDeclaration(node) ? (node.getName() ?? '') : '');
  if (Node.isClassDeclaration(owner)) return className(owner);
  const member = Node.isParameterDeclaration(owner) ? owner.getParent() : owner;
  const memberName = Node.isMethodDeclaration(member) || Node.isPropertyDeclaration(member) ? member.getName() : '';
  const cls = className(member.getParent());
  return [cls, memberName].filter(Boolean).join('.');
}
