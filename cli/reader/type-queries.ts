/** Questions about TypeScript types and declarations that several handlers ask. */
import { Node, ts, type EnumDeclaration, type Symbol as MorphSymbol, type Type } from 'ts-morph';

/** `T | null | undefined` apart: the other members, and whether null or undefined was among them. */
export function splitNullish(type: Type): { rest: Type[]; hasUndefined: boolean; hasNull: boolean } {
  if (!type.isUnion()) {
    if (type.isUndefined() || type.isVoid()) return { rest: [], hasUndefined: true, hasNull: false };
    if (type.isNull()) return { rest: [], hasUndefined: false, hasNull: true };
    return { rest: [type], hasUndefined: false, hasNull: false };
  }
  let hasUndefined = false;
  let hasNull = false;
  const rest: Type[] = [];
  for (const member of type.getUnionTypes()) {
    if (member.isUndefined() || member.isVoid()) hasUndefined = true;
    else if (member.isNull()) hasNull = true;
    else rest.push(member);
  }
  return { rest, hasUndefined, hasNull };
}

/**
 * For an optional declaration, the type as written (`s?: Shape` gives the alias `Shape`, where the
 * checker's type is the anonymous union `Shape | undefined`).
 */
export function declaredType(decl: Node, optional: boolean): Type | undefined {
  if (!optional) return undefined;
  if (Node.isPropertyDeclaration(decl) || Node.isPropertySignature(decl) || Node.isParameterDeclaration(decl)) {
    return decl.getTypeNode()?.getType();
  }
  return undefined;
}

export function isGenericInstance(type: Type): boolean {
  return type.getTypeArguments().length > 0 || type.getAliasTypeArguments().length > 0;
}

/** The enum a declaration's type annotation names (`level: Level`), if it names one directly. */
export function enumWrittenAt(node: Node): EnumDeclaration | undefined {
  if (!Node.isPropertyDeclaration(node) && !Node.isPropertySignature(node) && !Node.isParameterDeclaration(node)) return undefined;
  const typeNode = node.getTypeNode();
  if (!typeNode || !Node.isTypeReference(typeNode)) return undefined;
  const decl = typeNode.getTypeName().getSymbol()?.getDeclarations()[0];
  return decl && Node.isEnumDeclaration(decl) ? decl : undefined;
}

/** The checker's stand-in for a type it could not resolve (a missing import). */
export function isErrorType(type: Type): boolean {
  return (type.compilerType as { intrinsicName?: string }).intrinsicName === 'error';
}

/** Declared in TypeScript's own library (`Date`, `Map`, `Promise`), not by a user or a package. */
export function isLibSymbol(symbol: MorphSymbol): boolean {
  return symbol.getDeclarations().some((d) => {
    const path = d.getSourceFile().getFilePath();
    return /\/lib\.[^/]*\.d\.ts$/.test(path) || path.includes('/typescript/lib/');
  });
}

/** `private`, `protected` and `#private` members are not part of a message. */
export function hasHiddenModifier(decl: Node): boolean {
  if (Node.isPropertyDeclaration(decl) || Node.isParameterDeclaration(decl)) {
    if (decl.hasModifier(ts.SyntaxKind.PrivateKeyword) || decl.hasModifier(ts.SyntaxKind.ProtectedKeyword)) return true;
  }
  if (Node.isPropertyDeclaration(decl) && decl.getNameNode().getKind() === ts.SyntaxKind.PrivateIdentifier) return true;
  return false;
}

/** An object type a union may carry as a variant: not an array, tuple, function or built-in. */
export function isPlainObjectType(type: Type): boolean {
  if (!type.isObject() || type.isArray() || type.isTuple()) return false;
  const symbol = type.getSymbol();
  if (symbol && isLibSymbol(symbol)) return false;
  return type.getCallSignatures().length === 0;
}

export function stripUndefined(type: Type): Type {
  if (!type.isUnion()) return type;
  const rest = type.getUnionTypes().filter((t) => !t.isUndefined());
  return rest.length === 1 ? rest[0]! : type;
}

/** The value of a literal type (`'circle'`, `3`, `true`, an enum member), else undefined. */
export function literalOf(type: Type): string | number | boolean | undefined {
  if (type.isBooleanLiteral()) return type.getText() === 'true';
  if (type.isStringLiteral() || type.isNumberLiteral() || type.isEnumLiteral()) {
    const value = type.getLiteralValue();
    return typeof value === 'string' || typeof value === 'number' ? value : undefined;
  }
  return undefined;
}

export function propertyType(type: Type, name: string, node: Node): Type | undefined {
  return type.getProperty(name)?.getTypeAtLocation(node);
}
