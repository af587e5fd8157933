/**
 * Lays out generated TypeScript as prettier (pinned, `printWidth: 120, singleQuote: true`) lays
 * it out, without prettier: the build's hot path. The emitters write code as text with its own
 * structure but no indentation or line breaking; this module parses each chunk with the
 * TypeScript parser the reader already loaded, prints it into a document of groups, indents
 * and line breaks built the way prettier builds them for each kind of node, and renders that
 * document with the same fitting rule (a group is flat when it fits the line, up to the next
 * possible break after it).
 *
 * It covers the constructs generated code uses. Anything else, and the few layouts it does not
 * model (a binary expression, a long member chain or an arrow function that would break, a
 * comment it cannot place), make it give up on that chunk: `layoutChunk` returns undefined and
 * the caller formats the chunk with prettier itself (format.ts). The tests hold the two to the
 * same output, byte for byte, on every generated file they build (test/layout.test.ts).
 */
import { ts } from 'ts-morph';

const WIDTH = 120;
const INDENT = '  ';

// ---- documents ---------------------------------------------------------------------------

interface Group {
  kind: 'group';
  contents: Doc;
  broken: boolean;
  /** Alternatives tried in order when the group does not fit flat (a call's hugged last argument). */
  states?: Doc[];
  id?: symbol;
  /** A layout this module does not model when broken: rendering it broken gives up. */
  flatOnly?: boolean;
}
interface Indent {
  kind: 'indent';
  contents: Doc;
}
interface Line {
  kind: 'line';
  soft?: boolean;
  hard?: boolean;
}
interface IfBreak {
  kind: 'ifBreak';
  broken: Doc;
  flat: Doc;
  group?: symbol;
}
interface IndentIfBreak {
  kind: 'indentIfBreak';
  contents: Doc;
  group: symbol;
}
interface BreakParent {
  kind: 'breakParent';
}
type Doc = string | Doc[] | Group | Indent | Line | IfBreak | IndentIfBreak | BreakParent;

const line: Line = { kind: 'line' };
const softline: Line = { kind: 'line', soft: true };
const breakParent: BreakParent = { kind: 'breakParent' };
const hardline: Doc = [{ kind: 'line', hard: true }, breakParent];

function group(contents: Doc, options: { broken?: boolean; id?: symbol; flatOnly?: boolean } = {}): Group {
  return { kind: 'group', contents, broken: options.broken ?? false, id: options.id, flatOnly: options.flatOnly };
}
function conditionalGroup(states: Doc[]): Group {
  return { kind: 'group', contents: states[0]!, broken: false, states };
}
function indent(contents: Doc): Indent {
  return { kind: 'indent', contents };
}
function ifBreak(broken: Doc, flat: Doc = '', groupId?: symbol): IfBreak {
  return { kind: 'ifBreak', broken, flat, group: groupId };
}
function join(separator: Doc, docs: Doc[]): Doc[] {
  const out: Doc[] = [];
  for (let i = 0; i < docs.length; i++) {
    if (i > 0) out.push(separator);
    out.push(docs[i]!);
  }
  return out;
}

/** Whether `doc` holds a forced break (a hard line) outside conditional groups' alternatives. */
function willBreak(doc: Doc): boolean {
  if (typeof doc === 'string') return false;
  if (Array.isArray(doc)) return doc.some(willBreak);
  switch (doc.kind) {
    case 'group':
      return doc.broken || willBreak(doc.contents);
    case 'line':
      return doc.hard === true;
    case 'breakParent':
      return true;
    case 'ifBreak':
      return willBreak(doc.broken) || willBreak(doc.flat);
    default:
      return willBreak(doc.contents);
  }
}

/** Whether `doc` could break at all (a line of any kind). */
function canBreak(doc: Doc): boolean {
  if (typeof doc === 'string') return false;
  if (Array.isArray(doc)) return doc.some(canBreak);
  switch (doc.kind) {
    case 'group':
      return canBreak(doc.contents);
    case 'line':
      return true;
    case 'breakParent':
      return false;
    case 'ifBreak':
      return canBreak(doc.broken) || canBreak(doc.flat);
    default:
      return canBreak(doc.contents);
  }
}

/** Marks every group that holds a forced break as broken (not a conditional group: it chooses). */
function propagateBreaks(doc: Doc): boolean {
  if (typeof doc === 'string') return false;
  if (Array.isArray(doc)) {
    let any = false;
    for (const d of doc) any = propagateBreaks(d) || any;
    return any;
  }
  switch (doc.kind) {
    case 'group': {
      const inner = propagateBreaks(doc.contents);
      if (doc.states) for (const s of doc.states.slice(1)) propagateBreaks(s);
      if (inner && !doc.states) doc.broken = true;
      return inner || doc.broken;
    }
    case 'line':
      return doc.hard === true;
    case 'breakParent':
      return true;
    case 'ifBreak':
      return propagateBreaks(doc.broken) || propagateBreaks(doc.flat);
    default:
      return propagateBreaks(doc.contents);
  }
}

/** Gives up on a chunk: it is formatted by prettier instead. */
class Unsupported extends Error {}
const unsupported = (what: string): never => {
  throw new Unsupported(what);
};

type Mode = 'flat' | 'break';
interface Command {
  indent: string;
  mode: Mode;
  doc: Doc;
}

/** Whether `next` fits in `width` columns, followed by the rest up to its first line break. */
function fits(next: Command, rest: Command[], width: number, modes: Map<symbol, Mode>, mustBeFlat: boolean): boolean {
  let restIndex = rest.length;
  const commands: { mode: Mode; doc: Doc }[] = [next];
  while (width >= 0) {
    if (commands.length === 0) {
      if (restIndex === 0) return true;
      commands.push(rest[--restIndex]!);
      continue;
    }
    const { mode, doc } = commands.pop()!;
    if (typeof doc === 'string') {
      width -= doc.length;
      continue;
    }
    if (Array.isArray(doc)) {
      for (let i = doc.length - 1; i >= 0; i--) commands.push({ mode, doc: doc[i]! });
      continue;
    }
    switch (doc.kind) {
      case 'indent':
      case 'indentIfBreak':
        commands.push({ mode, doc: doc.contents });
        break;
      case 'group': {
        if (mustBeFlat && doc.broken) return false;
        const groupMode: Mode = doc.broken ? 'break' : mode;
        commands.push({ mode: groupMode, doc: doc.states && groupMode === 'break' ? doc.states[doc.states.length - 1]! : doc.contents });
        break;
      }
      case 'ifBreak': {
        const groupMode = doc.group ? (modes.get(doc.group) ?? 'flat') : mode;
        commands.push({ mode, doc: groupMode === 'break' ? doc.broken : doc.flat });
        break;
      }
      case 'line':
        if (mode === 'break' || doc.hard) return true;
        if (!doc.soft) width -= 1;
        break;
      case 'breakParent':
        break;
    }
  }
  return false;
}

/** The text of a document at `WIDTH` columns. */
function render(doc: Doc): string {
  propagateBreaks(doc);
  const modes = new Map<symbol, Mode>();
  const out: string[] = [];
  let column = 0;
  const commands: Command[] = [{ indent: '', mode: 'break', doc }];
  while (commands.length > 0) {
    const { indent: at, mode, doc: d } = commands.pop()!;
    if (typeof d === 'string') {
      out.push(d);
      column += d.length;
      continue;
    }
    if (Array.isArray(d)) {
      for (let i = d.length - 1; i >= 0; i--) commands.push({ indent: at, mode, doc: d[i]! });
      continue;
    }
    switch (d.kind) {
      case 'indent':
        commands.push({ indent: at + INDENT, mode, doc: d.contents });
        break;
      case 'group': {
        let chosen: Command;
        if (mode === 'flat') {
          chosen = { indent: at, mode: d.broken ? 'break' : 'flat', doc: d.contents };
        } else {
          const flat: Command = { indent: at, mode: 'flat', doc: d.contents };
          if (!d.broken && fits(flat, commands, WIDTH - column, modes, false)) chosen = flat;
          else if (!d.states) chosen = { indent: at, mode: 'break', doc: d.contents };
          else {
            chosen = { indent: at, mode: 'break', doc: d.states[d.states.length - 1]! };
            if (!d.broken) {
              for (let i = 1; i < d.states.length - 1; i++) {
                const state: Command = { indent: at, mode: 'flat', doc: d.states[i]! };
                if (fits(state, commands, WIDTH - column, modes, false)) {
                  chosen = state;
                  break;
                }
              }
            }
          }
        }
        if (d.flatOnly && chosen.mode === 'break') unsupported('a layout that breaks where prettier has its own rules');
        if (d.id) modes.set(d.id, chosen.mode);
        commands.push(chosen);
        break;
      }
      case 'ifBreak': {
        const groupMode = d.group ? modes.get(d.group) : mode;
        commands.push({ indent: at, mode, doc: groupMode === 'break' ? d.broken : d.flat });
        break;
      }
      case 'indentIfBreak':
        commands.push({ indent: modes.get(d.group) === 'break' ? at + INDENT : at, mode, doc: d.contents });
        break;
      case 'line':
        if (mode === 'flat' && !d.hard) {
          if (!d.soft) {
            out.push(' ');
            column += 1;
          }
          break;
        }
        // A new line: trailing spaces are dropped, as prettier drops them.
        while (out.length > 0 && out[out.length - 1]!.endsWith(' ')) out[out.length - 1] = out[out.length - 1]!.trimEnd();
        out.push('\n', at);
        column = at.length;
        break;
      case 'breakParent':
        break;
    }
  }
  return out.join('');
}

// ---- literals ----------------------------------------------------------------------------

/** A string literal as prettier prints it with `singleQuote`: the quote needing fewer escapes, other escapes as written. */
function printString(raw: string): string {
  const content = raw.slice(1, -1);
  // Most strings have neither quotes nor escapes.
  if (!/['"\\]/.test(content)) return `'${content}'`;
  const singles = (content.match(/'/g) ?? []).length;
  const doubles = (content.match(/"/g) ?? []).length;
  const quote = singles > doubles ? '"' : "'";
  const body = content.replace(/\\(.)|(["'])/gs, (match, escaped: string | undefined, bare: string | undefined) => {
    if (escaped === quote) return match;
    if (escaped === (quote === '"' ? "'" : '"')) return escaped;
    if (bare === quote) return `\\${bare}`;
    if (bare) return bare;
    return /^[^\n\r"'0-7\\bfnrt-vx\u2028\u2029]$/.test(escaped!) ? escaped! : `\\${escaped}`;
  });
  return quote + body + quote;
}

/** A number literal as prettier prints it. */
function printNumber(raw: string): string {
  if (/^\d+$/.test(raw)) return raw;
  return (
    raw
      .toLowerCase()
      // Remove unnecessary plus and zeroes from scientific notation.
      .replace(/^([+-]?[\d.]+e)(?:\+|(-))?0*(\d)/, '$1$2$3')
      // Remove unnecessary scientific notation (1x).
      .replace(/^([+-]?[\d.]+)e[+-]?0+$/, '$1')
      // Make sure numbers always start with a digit.
      .replace(/^([+-])?\./, '$10.')
      // Remove extraneous trailing decimal zeroes.
      .replace(/(\.\d+?)0+(?=e|$)/, '$1')
      // Remove trailing dot.
      .replace(/\.(?=e|$)/, '')
  );
}

// ---- the printer -------------------------------------------------------------------------

const identifierKey = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

class Printer {
  private readonly printedComments = new Set<number>();

  constructor(
    private readonly sf: ts.SourceFile,
    private readonly text: string,
  ) {}

  /** Whether the line after `end` (past the rest of its line) is empty: prettier keeps one such blank line. */
  private nextLineEmpty(end: number): boolean {
    let at = end;
    while (at < this.text.length && (this.text[at] === ' ' || this.text[at] === '\t' || this.text[at] === ';' || this.text[at] === ',')) at++;
    if (this.text[at] === '\r') at++;
    if (this.text[at] !== '\n') return false;
    at++;
    while (at < this.text.length && (this.text[at] === ' ' || this.text[at] === '\t')) at++;
    return this.text[at] === '\n' || this.text[at] === '\r';
  }

  /** Comments before `node` (its leading trivia), each followed as prettier follows a leading comment. */
  private leadingComments(node: ts.Node): Doc[] {
    const ranges = this.commentsBefore(node);
    const parts: Doc[] = [];
    for (const range of ranges) {
      // A node and its first child start at one place: the comment belongs to the outer one.
      if (this.printedComments.has(range.pos)) continue;
      this.printedComments.add(range.pos);
      const comment = this.text.slice(range.pos, range.end);
      const previous = this.lastTokenEnd(range.pos);
      const ownLine = previous === 0 || /\n/.test(this.text.slice(previous, range.pos));
      if (!ownLine && range.kind === ts.SyntaxKind.SingleLineCommentTrivia) unsupported('a line comment after code');
      if (range.kind === ts.SyntaxKind.MultiLineCommentTrivia && comment.includes('\n')) unsupported('a comment of several lines');
      parts.push(comment);
      const after = /^[ \t]*\r?\n/.test(this.text.slice(range.end));
      if (range.kind === ts.SyntaxKind.SingleLineCommentTrivia) parts.push(hardline);
      else parts.push(after ? (ownLine ? hardline : line) : ' ');
      if (after && this.nextLineEmpty(range.end)) parts.push(hardline);
    }
    return parts;
  }

  /** Every comment between the token before `node` and `node` (TypeScript splits them into trailing and leading ones). */
  private commentsBefore(node: ts.Node): ts.CommentRange[] {
    // Most nodes have only spaces before them: no scan then.
    let at = node.pos;
    while (at < this.text.length && (this.text.charCodeAt(at) === 32 || this.text.charCodeAt(at) === 10 || this.text.charCodeAt(at) === 13 || this.text.charCodeAt(at) === 9)) at++;
    if (this.text.charCodeAt(at) !== 47 /* / */ || (this.text.charCodeAt(at + 1) !== 47 && this.text.charCodeAt(at + 1) !== 42)) return [];
    const trailing = node.pos === 0 ? [] : (ts.getTrailingCommentRanges(this.text, node.pos) ?? []);
    const leading = ts.getLeadingCommentRanges(this.text, node.pos) ?? [];
    return [...trailing, ...leading.filter((l) => !trailing.some((t) => t.pos === l.pos))];
  }

  /** Where the code before `pos` ends (the previous token), to tell a comment on its own line from one after code. */
  private lastTokenEnd(pos: number): number {
    let at = pos;
    while (at > 0 && /\s/.test(this.text[at - 1]!)) at--;
    return at;
  }

  private withComments(node: ts.Node, printed: Doc): Doc {
    const comments = this.leadingComments(node);
    return comments.length === 0 ? printed : [...comments, printed];
  }

  // ---- statements ----

  file(): Doc {
    const body = this.statements(this.sf.statements);
    if (this.sf.statements.length === 0) {
      const comments = this.leadingComments(this.sf.endOfFileToken);
      return comments.length === 0 ? '' : [comments, ''];
    }
    if (this.commentsBefore(this.sf.endOfFileToken).length > 0) unsupported('comments at the end');
    return [body, hardline];
  }

  /** Statements one per line, a blank line kept where the source has one (at most one). */
  private statements(list: readonly ts.Statement[]): Doc {
    const parts: Doc[] = [];
    list.forEach((s, i) => {
      parts.push(this.withComments(s, this.statement(s)));
      if (i < list.length - 1) {
        parts.push(hardline);
        if (this.nextLineEmpty(s.end)) parts.push(hardline);
      }
    });
    return parts;
  }

  private block(node: ts.Block | ts.ModuleBlock): Doc {
    if (node.statements.length === 0) {
      if ((ts.getLeadingCommentRanges(this.text, node.statements.pos) ?? []).length > 0) unsupported('a comment in an empty block');
      return '{}';
    }
    return ['{', indent([hardline, this.statements(node.statements)]), hardline, '}'];
  }

  private statement(node: ts.Statement): Doc {
    if (this.ignored(node)) return this.text.slice(node.getStart(this.sf), node.end);
    if (ts.isExpressionStatement(node)) return [this.expression(node.expression), ';'];
    if (ts.isVariableStatement(node)) return [this.modifiers(node), this.variableList(node.declarationList), ';'];
    if (ts.isReturnStatement(node)) return this.returnStatement(node);
    if (ts.isIfStatement(node)) return this.ifStatement(node);
    if (ts.isBlock(node)) return this.block(node);
    if (ts.isFunctionDeclaration(node)) return this.functionLike(node, [this.modifiers(node), 'function ', node.name!.text]);
    if (ts.isSwitchStatement(node)) return this.switchStatement(node);
    if (ts.isForOfStatement(node)) {
      return group(['for (', this.forInitializer(node.initializer), ' of ', this.expression(node.expression), ')', this.clause(node.statement)]);
    }
    if (ts.isForStatement(node)) {
      const init = node.initializer ? this.forInitializer(node.initializer) : '';
      const test = node.condition ? this.expression(node.condition) : '';
      const update = node.incrementor ? this.expression(node.incrementor) : '';
      // (prettier's own layout of a long for header is not modelled)
      return [group(['for (', init, '; ', test, '; ', update, ')'], { flatOnly: true }), this.clause(node.statement)];
    }
    if (ts.isWhileStatement(node)) return group(['while (', group([indent([softline, this.test(node.expression)]), softline]), ')', this.clause(node.statement)]);
    if (ts.isBreakStatement(node) && !node.label) return 'break;';
    if (ts.isImportDeclaration(node)) return this.importDeclaration(node);
    if (ts.isInterfaceDeclaration(node)) return this.interfaceDeclaration(node);
    if (ts.isTypeAliasDeclaration(node)) return this.typeAlias(node);
    if (ts.isModuleDeclaration(node)) return this.moduleDeclaration(node);
    return unsupported(`statement ${ts.SyntaxKind[node.kind]}`);
  }

  /** `// prettier-ignore` before a statement: its text is kept as written. */
  private ignored(node: ts.Node): boolean {
    return this.commentsBefore(node).some((r) => this.text.slice(r.pos, r.end).trim() === '// prettier-ignore');
  }

  private modifiers(node: ts.Node): Doc {
    const mods = ts.canHaveModifiers(node) ? (ts.getModifiers(node) ?? []) : [];
    return mods.map((m) => {
      switch (m.kind) {
        case ts.SyntaxKind.ExportKeyword:
          return 'export ';
        case ts.SyntaxKind.DeclareKeyword:
          return 'declare ';
        case ts.SyntaxKind.AsyncKeyword:
          return 'async ';
        default:
          return unsupported(`modifier ${ts.SyntaxKind[m.kind]}`);
      }
    });
  }

  /** The body of an `if`, `for` or `while`: a block after a space, else on the same line or indented on the next. */
  private clause(node: ts.Statement): Doc {
    if (ts.isBlock(node)) return [' ', this.statement(node)];
    if (ts.isEmptyStatement(node)) return ';';
    return indent([line, this.withComments(node, this.statement(node))]);
  }

  /**
   * The test of an `if` or `while`: a chain of one logical operator (`a && b && c`) breaks after
   * each operator, inside the parentheses' own indentation, as prettier breaks it there.
   */
  private test(node: ts.Expression): Doc {
    const logical = [ts.SyntaxKind.AmpersandAmpersandToken, ts.SyntaxKind.BarBarToken, ts.SyntaxKind.QuestionQuestionToken];
    if (!ts.isBinaryExpression(node) || !logical.includes(node.operatorToken.kind) || this.commentsBefore(node).length > 0) return this.expression(node);
    const op = node.operatorToken.kind;
    const operands: ts.Expression[] = [];
    const flatten = (n: ts.Expression): void => {
      if (ts.isBinaryExpression(n) && n.operatorToken.kind === op && this.commentsBefore(n.right).length === 0) {
        flatten(n.left);
        operands.push(n.right);
      } else operands.push(n);
    };
    flatten(node);
    const parts: Doc[] = [group(this.expression(operands[0]!))];
    for (const operand of operands.slice(1)) parts.push(' ', [ts.tokenToString(op)!, line, this.expression(operand)]);
    return parts;
  }

  private ifStatement(node: ts.IfStatement): Doc {
    const consequent = group(this.clause(node.thenStatement));
    const opening = group(['if (', group([indent([softline, this.test(node.expression)]), softline]), ')', consequent]);
    if (!node.elseStatement) return opening;
    const elseOnSameLine = ts.isBlock(node.thenStatement);
    const alternate = ts.isIfStatement(node.elseStatement) ? [' ', this.statement(node.elseStatement)] : this.clause(node.elseStatement);
    if (this.commentsBefore(node.elseStatement).length > 0) unsupported('a comment before else');
    return [opening, elseOnSameLine ? ' ' : hardline, 'else', group(alternate)];
  }

  private returnStatement(node: ts.ReturnStatement): Doc {
    if (!node.expression) return 'return;';
    const argument = node.expression;
    if (ts.isBinaryExpression(argument) && argument.operatorToken.kind !== ts.SyntaxKind.EqualsToken) {
      // (prettier wraps a binary result in parentheses when it breaks: not modelled)
      return ['return ', group(this.expression(argument), { flatOnly: true }), ';'];
    }
    return ['return ', this.expression(argument), ';'];
  }

  private switchStatement(node: ts.SwitchStatement): Doc {
    const clauses = node.caseBlock.clauses;
    const printed: Doc[] = [];
    clauses.forEach((clause, i) => {
      const head = ts.isCaseClause(clause) ? ['case ', this.expression(clause.expression), ':'] : 'default:';
      const body = clause.statements;
      let doc: Doc;
      if (body.length === 0) doc = head;
      else if (body.length === 1 && ts.isBlock(body[0]!)) doc = [head, ' ', this.statement(body[0]!)];
      else doc = [head, indent([hardline, this.statements(body)])];
      printed.push(this.withComments(clause, doc));
      if (i < clauses.length - 1) {
        printed.push(hardline);
        if (this.nextLineEmpty(clause.end)) printed.push(hardline);
      }
    });
    return [group(['switch (', indent([softline, this.expression(node.expression)]), softline, ')']), ' {', clauses.length > 0 ? indent([hardline, printed]) : '', hardline, '}'];
  }

  private forInitializer(node: ts.ForInitializer): Doc {
    return ts.isVariableDeclarationList(node) ? this.variableList(node) : this.expression(node);
  }

  private variableList(list: ts.VariableDeclarationList): Doc {
    const keyword = list.flags & ts.NodeFlags.Const ? 'const' : list.flags & ts.NodeFlags.Let ? 'let' : 'var';
    if (list.declarations.length !== 1) unsupported('several declarations in one statement');
    const declaration = list.declarations[0]!;
    const name = this.bindingName(declaration.name);
    const left = declaration.type ? [name, ': ', this.type(declaration.type, declaration)] : name;
    if (!declaration.initializer) return [keyword, ' ', left];
    if (declaration.type && this.complexTypeAnnotation(declaration.type)) unsupported('a complex type annotation');
    return [keyword, ' ', this.assignment(left, ' =', declaration.initializer, false)];
  }

  private bindingName(name: ts.BindingName): Doc {
    if (ts.isIdentifier(name)) return name.text;
    if (ts.isArrayBindingPattern(name)) {
      const elements = name.elements.map((e) => (ts.isBindingElement(e) && !e.initializer && !e.dotDotDotToken && !e.propertyName ? this.bindingName(e.name) : unsupported('a binding element')));
      return group(['[', indent([softline, join([',', line], elements)]), ifBreak(','), softline, ']'], { flatOnly: true });
    }
    return unsupported('an object binding pattern');
  }

  /** A type reference with more than one type argument, one of which has its own (prettier breaks such assignments differently). */
  private complexTypeAnnotation(type: ts.TypeNode): boolean {
    return ts.isTypeReferenceNode(type) && (type.typeArguments?.length ?? 0) > 1 && type.typeArguments!.some((a) => ts.isTypeReferenceNode(a) && (a.typeArguments?.length ?? 0) > 0);
  }

  /**
   * `left op right` as prettier lays out assignments: the value after the operator, broken
   * inside itself first and moved to the next line when even its start does not fit (fluid); a
   * string or a member access moved to the next line first; a short object key never.
   */
  private assignment(left: Doc, operator: string, right: ts.Expression, isProperty: boolean): Doc {
    const rightDoc = this.expression(right);
    const ranges = this.commentsBefore(right);
    if (ranges.some((r) => /\n/.test(this.text.slice(r.end, right.getStart(this.sf))))) unsupported('a comment on its own line before a value');
    if (ts.isArrowFunction(right) && !isProperty) unsupported('an arrow function assigned');
    const shortKey = isProperty && typeof left === 'string' && left.length < INDENT.length + 3;
    if (ts.isBinaryExpression(right) || ts.isConditionalExpression(right)) return unsupported('a binary or conditional value');
    if (!shortKey && (ts.isStringLiteral(right) || this.poorlyBreakableChain(right))) {
      return group([group(left), operator, group(indent([line, rightDoc]))]);
    }
    if (!canBreak(left) && (shortKey || ts.isNumericLiteral(right) || right.kind === ts.SyntaxKind.TrueKeyword || right.kind === ts.SyntaxKind.FalseKeyword || ts.isNoSubstitutionTemplateLiteral(right))) {
      return group([group(left), operator, ' ', rightDoc]);
    }
    const id = Symbol('assignment');
    return group([group(left), operator, group(indent(line), { id }), { kind: 'indentIfBreak', contents: rightDoc, group: id }]);
  }

  /** A member access or call chain without arguments (or one short one) down to an identifier: prettier breaks after `=` before it. */
  private poorlyBreakableChain(node: ts.Expression, deep = false): boolean {
    let n: ts.Expression = node;
    while (ts.isPrefixUnaryExpression(n) || ts.isNonNullExpression(n)) n = ts.isNonNullExpression(n) ? n.expression : n.operand;
    if (ts.isCallExpression(n)) {
      if (this.memberChainGroups(n) > 0) return false;
      const args = n.arguments;
      const poor = args.length === 0 || (args.length === 1 && this.loneShortArgument(args[0]!));
      if (!poor || (n.typeArguments && n.typeArguments.length > 0)) return false;
      return this.poorlyBreakableChain(n.expression, true);
    }
    if (ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n)) return this.poorlyBreakableChain(n.expression, true);
    return deep && (ts.isIdentifier(n) || n.kind === ts.SyntaxKind.ThisKeyword);
  }

  /** A call argument prettier counts as short (so a call with it alone stays with its callee). */
  private loneShortArgument(arg: ts.Expression): boolean {
    const threshold = WIDTH / 4;
    if (ts.isIdentifier(arg)) return arg.text.length <= threshold;
    if (this.commentsBefore(arg).length > 0) return false;
    if (ts.isNumericLiteral(arg) || arg.kind === ts.SyntaxKind.ThisKeyword || arg.kind === ts.SyntaxKind.NullKeyword || arg.kind === ts.SyntaxKind.TrueKeyword || arg.kind === ts.SyntaxKind.FalseKeyword) return true;
    if (ts.isStringLiteral(arg)) return printString(arg.getText(this.sf)).length <= threshold;
    if (ts.isPrefixUnaryExpression(arg)) return this.loneShortArgument(arg.operand);
    return ts.isBigIntLiteral(arg);
  }

  // ---- declarations ----

  /** `function name(params): T {` and its body (a function declaration, expression or method). */
  private functionLike(node: ts.FunctionDeclaration | ts.FunctionExpression | ts.MethodDeclaration, head: Doc, hugged = false): Doc {
    if (node.typeParameters || node.asteriskToken) unsupported('generic or generator functions');
    const params = this.parameters(node.parameters, hugged);
    const returnType = node.type ? [': ', this.type(node.type, node)] : '';
    return [head, group([params, returnType]), node.body ? [' ', this.block(node.body)] : ';'];
  }

  private parameters(list: readonly ts.ParameterDeclaration[], hugged: boolean): Doc {
    if (list.length === 0) return '()';
    const printed = list.map((p) => {
      if (p.dotDotDotToken || p.initializer || p.modifiers) unsupported('a parameter with a default, rest or modifier');
      return [this.bindingName(p.name), p.questionToken ? '?' : '', p.type ? [': ', this.type(p.type, p)] : ''];
    });
    // A hugged function argument keeps its parameters on one line (prettier gives up hugging otherwise).
    if (hugged) return ['(', join(', ', printed), ')'];
    return ['(', indent([softline, join([',', line], printed)]), ifBreak(','), softline, ')'];
  }

  private importDeclaration(node: ts.ImportDeclaration): Doc {
    const clause = node.importClause;
    const from = this.expression(node.moduleSpecifier as ts.Expression);
    if (!clause) return ['import ', from, ';'];
    const bindings = clause.namedBindings;
    if (clause.name || !bindings || !ts.isNamedImports(bindings)) return unsupported('a default or namespace import');
    const specifiers = bindings.elements.map((s) => [s.isTypeOnly ? 'type ' : '', s.propertyName ? `${s.propertyName.text} as ` : '', s.name.text]);
    const head = clause.isTypeOnly ? 'import type ' : 'import ';
    if (specifiers.length === 0) return [head, '{} from ', from, ';'];
    return [head, group(['{', indent([line, join([',', line], specifiers)]), ifBreak(','), line, '}']), ' from ', from, ';'];
  }

  private interfaceDeclaration(node: ts.InterfaceDeclaration): Doc {
    if (node.typeParameters || node.heritageClauses) unsupported('a generic or extending interface');
    return [this.modifiers(node), 'interface ', node.name.text, ' ', this.members(node.members, true)];
  }

  /** The members of an interface (always one per line) or of a type literal (on one line when they fit and were written so). */
  private members(members: readonly ts.TypeElement[], alwaysBreak: boolean, start?: number): Doc {
    if (members.length === 0) return '{}';
    const printed: Doc[] = [];
    members.forEach((m, i) => {
      if (!ts.isPropertySignature(m) || !m.type || m.modifiers) unsupported('a member other than a property');
      const signature = m as ts.PropertySignature;
      const doc = [this.propertyName(signature.name), signature.questionToken ? '?' : '', ': ', this.type(signature.type!, signature)];
      printed.push(group(this.withComments(m, doc)));
      if (i < members.length - 1) {
        printed.push(';', line);
        if (this.nextLineEmpty(m.end)) printed.push(hardline);
      }
    });
    const broken = alwaysBreak || (start !== undefined && /\n/.test(this.text.slice(start, members[0]!.getStart(this.sf))));
    return group(['{', indent([line, printed]), ifBreak(';'), line, '}'], { broken });
  }

  private typeAlias(node: ts.TypeAliasDeclaration): Doc {
    if (node.typeParameters) unsupported('a generic type alias');
    const head = [this.modifiers(node), 'type ', node.name.text, ' ='];
    // A union that is not hugged breaks after the operator (prettier's `break-after-operator`):
    // first onto one indented line of its own, and only when that does not fit, one `| member` per line.
    if (ts.isUnionTypeNode(node.type) && !this.isHuggedUnion(node.type)) return [group([group(head), group(indent([line, this.type(node.type, node)]))]), ';'];
    // Anything else as an assignment (fluid).
    const id = Symbol('alias');
    return [group([group(head), group(indent(line), { id }), { kind: 'indentIfBreak', contents: this.type(node.type, node), group: id }]), ';'];
  }

  /**
   * A union as prettier prints it: hugged (`Contact | null`: one object-like type and null or
   * void); else with a line before each `| ` member, indented unless it is a type argument or a
   * tuple element. Breaking is modelled after a type alias's `=` only.
   */
  private union(node: ts.UnionTypeNode, parent: ts.Node | undefined): Doc {
    const members = node.types.map((t) => this.type(t, node));
    if (this.isHuggedUnion(node)) return join(' | ', members);
    if (!parent) return unsupported('a union without its parent');
    if (ts.isTypeAliasDeclaration(parent)) return group([ifBreak('| '), join([line, '| '], members)]);
    const shouldIndent = !ts.isTypeReferenceNode(parent) && !ts.isTupleTypeNode(parent) && !ts.isExpressionWithTypeArguments(parent);
    const main = group([ifBreak([shouldIndent ? line : '', '| ']), join([line, '| '], members)], { flatOnly: true });
    if (ts.isTupleTypeNode(parent) && parent.elements.length > 1) return group([indent([ifBreak(['(', softline]), main]), softline, ifBreak(')')], { flatOnly: true });
    return group(shouldIndent ? indent(main) : main);
  }

  /** `Contact | null`: one object-like type with only null or void beside it stays on one line. */
  private isHuggedUnion(node: ts.UnionTypeNode): boolean {
    const objectLike = node.types.find((t) => ts.isTypeLiteralNode(t) || ts.isTypeReferenceNode(t));
    const isVoid = (t: ts.TypeNode) => t.kind === ts.SyntaxKind.VoidKeyword || (ts.isLiteralTypeNode(t) && t.literal.kind === ts.SyntaxKind.NullKeyword);
    return !!objectLike && node.types.every((t) => t === objectLike || isVoid(t));
  }

  private moduleDeclaration(node: ts.ModuleDeclaration): Doc {
    if (!node.body || !ts.isModuleBlock(node.body)) return unsupported('a module without a block');
    const name = ts.isStringLiteral(node.name) ? printString(node.name.getText(this.sf)) : node.name.text;
    return [this.modifiers(node), node.flags & ts.NodeFlags.Namespace ? 'namespace ' : 'module ', name, ' ', this.block(node.body)];
  }

  private propertyName(name: ts.PropertyName): Doc {
    if (ts.isIdentifier(name)) return name.text;
    if (ts.isStringLiteral(name)) {
      if (identifierKey.test(name.text)) return name.text;
      return printString(name.getText(this.sf));
    }
    if (ts.isNumericLiteral(name)) return printNumber(name.getText(this.sf));
    return unsupported('a computed property name');
  }

  // ---- types ----

  /** A type; `parent`: the node it is written in (a union's layout depends on it). */
  private type(node: ts.TypeNode, parent?: ts.Node): Doc {
    switch (node.kind) {
      case ts.SyntaxKind.StringKeyword:
      case ts.SyntaxKind.NumberKeyword:
      case ts.SyntaxKind.BooleanKeyword:
      case ts.SyntaxKind.BigIntKeyword:
      case ts.SyntaxKind.UnknownKeyword:
      case ts.SyntaxKind.AnyKeyword:
      case ts.SyntaxKind.VoidKeyword:
      case ts.SyntaxKind.UndefinedKeyword:
      case ts.SyntaxKind.NeverKeyword:
      case ts.SyntaxKind.ObjectKeyword:
      case ts.SyntaxKind.SymbolKeyword:
      case ts.SyntaxKind.ThisType:
        return node.getText(this.sf);
    }
    if (ts.isLiteralTypeNode(node)) {
      const literal = node.literal;
      if (ts.isStringLiteral(literal)) return printString(literal.getText(this.sf));
      if (ts.isNumericLiteral(literal)) return printNumber(literal.getText(this.sf));
      if (ts.isPrefixUnaryExpression(literal) && ts.isNumericLiteral(literal.operand)) return ['-', printNumber(literal.operand.getText(this.sf))];
      return literal.getText(this.sf);
    }
    if (ts.isTypeReferenceNode(node)) return [this.entityName(node.typeName), node.typeArguments ? this.typeArguments(node.typeArguments, node) : ''];
    if (ts.isUnionTypeNode(node)) return this.union(node, parent);
    if (ts.isArrayTypeNode(node)) return [this.type(node.elementType, node), '[]'];
    if (ts.isTupleTypeNode(node)) {
      if (node.elements.length === 0) return '[]';
      const elements = node.elements.map((e) => group(this.type(e, node)));
      return group(['[', indent([softline, join([',', line], elements)]), ifBreak(','), softline, ']']);
    }
    if (ts.isOptionalTypeNode(node)) return [this.type(node.type, node), '?'];
    if (ts.isParenthesizedTypeNode(node)) return ['(', this.type(node.type, node), ')'];
    if (ts.isTypeQueryNode(node)) return ['typeof ', this.entityName(node.exprName)];
    if (ts.isTypeOperatorNode(node) && node.operator === ts.SyntaxKind.KeyOfKeyword) return ['keyof ', this.type(node.type, node)];
    if (ts.isTypeLiteralNode(node)) return this.members(node.members, false, node.getStart(this.sf));
    return unsupported(`type ${ts.SyntaxKind[node.kind]}`);
  }

  private entityName(name: ts.EntityName): string {
    return ts.isIdentifier(name) ? name.text : `${this.entityName(name.left)}.${name.right.text}`;
  }

  private typeArguments(list: readonly ts.TypeNode[], parent: ts.Node): Doc {
    const printed = list.map((t) => this.type(t, parent));
    // One keyword or plain type name stays with its `<>`; others break one per line.
    const only = list[0]!;
    if (list.length === 1 && (this.isKeywordType(only) || (ts.isTypeReferenceNode(only) && !only.typeArguments))) return ['<', printed[0]!, '>'];
    return group(['<', indent([softline, join([',', line], printed)]), softline, '>']);
  }

  private isKeywordType(node: ts.TypeNode): boolean {
    return node.kind >= ts.SyntaxKind.FirstKeyword && node.kind <= ts.SyntaxKind.LastKeyword;
  }

  // ---- expressions ----

  private expression(node: ts.Expression): Doc {
    return this.withComments(node, this.expressionWithoutComments(node));
  }

  private expressionWithoutComments(node: ts.Expression): Doc {
    const S = ts.SyntaxKind;
    switch (node.kind) {
      case S.Identifier:
        return (node as ts.Identifier).text;
      case S.TrueKeyword:
        return 'true';
      case S.FalseKeyword:
        return 'false';
      case S.NullKeyword:
        return 'null';
      case S.ThisKeyword:
        return 'this';
      case S.StringLiteral:
        return printString(node.getText(this.sf));
      case S.NumericLiteral:
        return printNumber(node.getText(this.sf));
      case S.BigIntLiteral:
        return node.getText(this.sf).toLowerCase();
      case S.PropertyAccessExpression: {
        const access = node as ts.PropertyAccessExpression;
        if (access.questionDotToken) unsupported('optional chaining');
        return [this.expression(access.expression), '.', access.name.text];
      }
      case S.ElementAccessExpression: {
        const access = node as ts.ElementAccessExpression;
        return [this.expression(access.expression), '[', this.expression(access.argumentExpression), ']'];
      }
      case S.NonNullExpression:
        return [this.expression((node as ts.NonNullExpression).expression), '!'];
      case S.CallExpression:
        return this.call(node as ts.CallExpression);
      case S.NewExpression: {
        const created = node as ts.NewExpression;
        return ['new ', this.expression(created.expression), created.typeArguments ? this.typeArguments(created.typeArguments, created) : '', this.callArguments(created.arguments ?? [])];
      }
      case S.ObjectLiteralExpression:
        return this.object(node as ts.ObjectLiteralExpression);
      case S.ArrayLiteralExpression:
        return this.array(node as ts.ArrayLiteralExpression);
      case S.AsExpression: {
        const cast = node as ts.AsExpression;
        return [this.expression(cast.expression), ' as ', this.type(cast.type, cast)];
      }
      case S.PrefixUnaryExpression: {
        const unary = node as ts.PrefixUnaryExpression;
        return [ts.tokenToString(unary.operator)!, this.expression(unary.operand)];
      }
      case S.PostfixUnaryExpression: {
        const unary = node as ts.PostfixUnaryExpression;
        return [this.expression(unary.operand), ts.tokenToString(unary.operator)!];
      }
      case S.TypeOfExpression:
        return ['typeof ', this.expression((node as ts.TypeOfExpression).expression)];
      case S.ParenthesizedExpression:
        return ['(', this.expression((node as ts.ParenthesizedExpression).expression), ')'];
      case S.BinaryExpression:
        return this.binary(node as ts.BinaryExpression);
      case S.FunctionExpression: {
        const fn = node as ts.FunctionExpression;
        return this.functionLike(fn, ['function ', fn.name ? fn.name.text : '']);
      }
      case S.ArrowFunction:
        return this.arrow(node as ts.ArrowFunction);
      default:
        return unsupported(`expression ${ts.SyntaxKind[node.kind]}`);
    }
  }

  private binary(node: ts.BinaryExpression): Doc {
    const operator = node.operatorToken.kind;
    if (operator === ts.SyntaxKind.EqualsToken) return this.assignment(this.expression(node.left), ' =', node.right, false);
    const text = ts.tokenToString(operator)!;
    // Mixed operators get parentheses from prettier (`a && b || c`, `a % b * c`): not modelled.
    for (const side of [node.left, node.right]) {
      if (ts.isBinaryExpression(side) && side.operatorToken.kind !== operator && !this.sameKind(side.operatorToken.kind, operator)) unsupported('mixed binary operators');
    }
    return group([this.expression(node.left), ' ', text, line, this.expression(node.right)], { flatOnly: true });
  }

  /** Operators prettier chains without parentheses (the same one, or comparisons under a logical one). */
  private sameKind(inner: ts.SyntaxKind, outer: ts.SyntaxKind): boolean {
    const logical = [ts.SyntaxKind.AmpersandAmpersandToken, ts.SyntaxKind.BarBarToken, ts.SyntaxKind.QuestionQuestionToken];
    const comparison = [
      ts.SyntaxKind.EqualsEqualsEqualsToken,
      ts.SyntaxKind.ExclamationEqualsEqualsToken,
      ts.SyntaxKind.LessThanToken,
      ts.SyntaxKind.GreaterThanToken,
      ts.SyntaxKind.LessThanEqualsToken,
      ts.SyntaxKind.GreaterThanEqualsToken,
      ts.SyntaxKind.InstanceOfKeyword,
      ts.SyntaxKind.InKeyword,
    ];
    const arithmetic = [ts.SyntaxKind.PlusToken, ts.SyntaxKind.MinusToken];
    if (logical.includes(outer)) return !logical.includes(inner);
    if (comparison.includes(outer)) return arithmetic.includes(inner) || inner === ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken;
    return false;
  }

  private arrow(node: ts.ArrowFunction): Doc {
    if (node.typeParameters || node.type) unsupported('a typed arrow function');
    if (ts.isBlock(node.body)) unsupported('an arrow function with a block');
    const params = ['(', join(', ', node.parameters.map((p) => (p.type || p.initializer || p.dotDotDotToken ? unsupported('an arrow parameter') : this.bindingName(p.name)))), ')'];
    return group([params, ' => ', this.expression(node.body as ts.Expression)], { flatOnly: true });
  }

  private call(node: ts.CallExpression): Doc {
    if (node.questionDotToken) unsupported('optional chaining');
    if (this.memberChainGroups(node) > 2 && !this.mergedChain(node)) unsupported('a member chain');
    if (this.memberChainGroups(node) > 3) unsupported('a long member chain');
    return [this.expression(node.expression), node.typeArguments ? this.typeArguments(node.typeArguments, node) : '', this.callArguments(node.arguments)];
  }

  /** The `.name(…)` groups of a member chain after its head (prettier prints up to two or three of them on one line). */
  private memberChainGroups(node: ts.CallExpression): number {
    let count = 0;
    let n: ts.Expression = node;
    while (ts.isCallExpression(n) || ts.isPropertyAccessExpression(n) || ts.isNonNullExpression(n) || ts.isElementAccessExpression(n)) {
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression)) count++;
      n = n.expression;
    }
    return count;
  }

  /** A chain whose head is a short name or a factory (prettier keeps its first call on the first line). */
  private mergedChain(node: ts.CallExpression): boolean {
    let n: ts.Expression = node;
    while (ts.isCallExpression(n) || ts.isPropertyAccessExpression(n) || ts.isNonNullExpression(n) || ts.isElementAccessExpression(n)) n = n.expression;
    return (ts.isIdentifier(n) && (n.text.length <= INDENT.length || /^[A-Z]|^[$_]+$/.test(n.text))) || n.kind === ts.SyntaxKind.ThisKeyword;
  }

  private callArguments(args: readonly ts.Expression[]): Doc {
    if (args.length === 0) return '()';
    const printed = args.map((a) => this.expression(a));
    const last = args[args.length - 1]!;
    const allBrokenOut = () => group(['(', indent([line, join([',', line], printed)]), ',', line, ')'], { broken: true });
    if (this.expandsLastArgument(args)) {
      const head = printed.slice(0, -1);
      if (head.some(willBreak)) return allBrokenOut();
      const lastDoc = ts.isFunctionExpression(last) ? this.withComments(last, this.functionLike(last, ['function ', last.name ? last.name.text : ''], true)) : printed[printed.length - 1]!;
      const headDocs = head.flatMap((d) => [d, ', ']);
      if (willBreak(lastDoc)) return [breakParent, conditionalGroup([['(', ...headDocs, group(lastDoc, { broken: true }), ')'], allBrokenOut()])];
      return conditionalGroup([['(', ...headDocs, lastDoc, ')'], ['(', ...headDocs, group(lastDoc, { broken: true }), ')'], allBrokenOut()]);
    }
    return group(['(', indent([softline, join([',', line], printed)]), ifBreak(','), softline, ')'], { broken: printed.some(willBreak) });
  }

  /** Whether prettier hugs the last argument (an object, array or function, after arguments of other kinds). */
  private expandsLastArgument(args: readonly ts.Expression[]): boolean {
    const last = args[args.length - 1]!;
    const penultimate = args.length > 1 ? args[args.length - 2] : undefined;
    if (this.commentsBefore(last).length > 0) return false;
    const expandable =
      (ts.isObjectLiteralExpression(last) && last.properties.length > 0) ||
      (ts.isArrayLiteralExpression(last) && last.elements.length > 0) ||
      ts.isFunctionExpression(last) ||
      (ts.isArrowFunction(last) && unsupported('an arrow function argument'));
    if (!expandable) return false;
    if (penultimate && penultimate.kind === last.kind) return false;
    if (args.length > 1 && ts.isArrayLiteralExpression(last) && this.concise(last)) return false;
    return true;
  }

  /** An array of numbers only (prettier fills its lines with them). */
  private concise(node: ts.ArrayLiteralExpression): boolean {
    return node.elements.length > 0 && node.elements.every((e) => ts.isNumericLiteral(e) || (ts.isPrefixUnaryExpression(e) && ts.isNumericLiteral(e.operand)));
  }

  private object(node: ts.ObjectLiteralExpression): Doc {
    if (node.properties.length === 0) {
      if ((ts.getLeadingCommentRanges(this.text, node.properties.pos) ?? []).length > 0) unsupported('a comment in an empty object');
      return '{}';
    }
    const props: Doc[] = [];
    node.properties.forEach((p, i) => {
      props.push(group(this.withComments(p, this.property(p))));
      if (i < node.properties.length - 1) {
        props.push(',', line);
        if (this.nextLineEmpty(p.end)) props.push(hardline);
      }
    });
    // prettier keeps an object broken when the source breaks after its `{`.
    const broken = /\n/.test(this.text.slice(node.getStart(this.sf), node.properties[0]!.getStart(this.sf)));
    return group(['{', indent([line, props]), ifBreak(','), line, '}'], { broken });
  }

  private property(node: ts.ObjectLiteralElementLike): Doc {
    if (ts.isPropertyAssignment(node)) {
      if (ts.isComputedPropertyName(node.name)) unsupported('a computed key');
      return this.assignment(this.propertyName(node.name), ':', node.initializer, true);
    }
    if (ts.isShorthandPropertyAssignment(node) && !node.objectAssignmentInitializer) return node.name.text;
    if (ts.isMethodDeclaration(node)) {
      if (node.modifiers || node.questionToken) unsupported('a method modifier');
      return this.functionLike(node, this.propertyName(node.name));
    }
    return unsupported(`object member ${ts.SyntaxKind[node.kind]}`);
  }

  private array(node: ts.ArrayLiteralExpression): Doc {
    if (node.elements.length === 0) return '[]';
    if (this.concise(node)) {
      // (prettier fills lines with numbers: only the case where they fit is modelled)
      return group(['[', join(', ', node.elements.map((e) => this.expression(e))), ']'], { flatOnly: true });
    }
    const kinds = node.elements.map((e) => (ts.isArrayLiteralExpression(e) ? e.elements.length : ts.isObjectLiteralExpression(e) ? e.properties.length : -1));
    const broken = node.elements.length > 1 && kinds.every((k) => k > 1) && node.elements.every((e) => e.kind === node.elements[0]!.kind);
    const elements: Doc[] = [];
    node.elements.forEach((e, i) => {
      if (ts.isOmittedExpression(e) || ts.isSpreadElement(e)) unsupported('a hole or spread in an array');
      elements.push(group(this.expression(e)));
      if (i < node.elements.length - 1) {
        elements.push([',', line, this.nextLineEmpty(e.end) ? softline : '']);
      }
    });
    return group(['[', indent([softline, elements, ifBreak(',')]), softline, ']'], { broken });
  }
}

/**
 * One chunk of generated code (a complete declaration, or the imports) laid out as prettier lays
 * it out; undefined when it holds something this module does not model.
 */
export function layoutChunk(source: string): string | undefined {
  // Wide characters count double in prettier's widths; plain ASCII is what generated code is.
  if (/[^\x00-\x7f]/.test(source)) return undefined;
  const sf = ts.createSourceFile('chunk.ts', source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  if ((sf as unknown as { parseDiagnostics: unknown[] }).parseDiagnostics.length > 0) return undefined;
  try {
    return render(new Printer(sf, source).file());
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}
