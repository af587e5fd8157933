/** Name conversions shared by the reader and the emitters. */

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isProtoIdentifier(name: string): boolean {
  return identifier.test(name);
}

/** Splits 'chat-message', 'chatMessage', 'CHAT_MESSAGE', 'Chat message' into lower-case words. */
function words(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase());
}

/** 'chat-message' -> 'ChatMessage'; 'ChatMessage' stays. */
export function pascalCase(text: string): string {
  const result = words(text)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
  return /^[0-9]/.test(result) ? `_${result}` : result;
}

/** 'DocumentEdit' -> 'DOCUMENT_EDIT'. */
export function screamingSnake(text: string): string {
  const result = enumValueSuffix(text);
  return /^[0-9]/.test(result) ? `_${result}` : result;
}

/** The part of an enum value name after its PREFIX_ (may start with a digit: COLOR_1). */
export function enumValueSuffix(text: string): string {
  return words(text).join('_').toUpperCase() || 'EMPTY';
}

/** 'fileName' -> 'file_name' (used for oneof member names). */
export function snakeCase(text: string): string {
  const result = words(text).join('_');
  return result === '' ? 'empty' : /^[0-9]/.test(result) ? `_${result}` : result;
}

/** A valid protobuf identifier for a TypeScript property name, kept as close as possible. */
export function protoFieldName(name: string): string {
  if (isProtoIdentifier(name)) return name;
  const replaced = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[0-9]/.test(replaced) ? `_${replaced}` : replaced || '_';
}

/** The protobuf name of an enum value: `LEVEL_LOW` for a TS enum member, `STATUS_OPEN` / `SIZE_MINUS_1` for a literal. */
export function enumValueName(enumName: string, value: { member: string } | { value: string | number }): string {
  const suffix = 'member' in value ? enumValueSuffix(value.member) : enumValueSuffix(String(value.value).replace(/^-/, 'minus '));
  return `${screamingSnake(enumName)}_${suffix}`;
}

/** The value 0 of every enum: never a real value, so an absent or unknown number is never mistaken for one. */
export function enumZeroName(enumName: string): string {
  return `${screamingSnake(enumName)}_UNSPECIFIED`;
}
