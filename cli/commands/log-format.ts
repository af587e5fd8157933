/**
 * The broker's log lines for a person at a terminal. pino writes one JSON object per line,
 * which tools want and people do not read; when stderr is a terminal (or with
 * `--log-format pretty`) each line becomes
 *
 *   14:02:07.815 INFO  p2pgen broker listening on ws://127.0.0.1:8080  protectedMode=true
 *
 * time, level, message, then the fields the message does not already say (pid, hostname and
 * the logger's name left out), an error's stack on the lines below. Colours unless NO_COLOR is
 * set. A small formatter rather than pino-pretty: one function, no dependency, no worker.
 */

export type LogFormat = 'pretty' | 'json';

/** pino's numeric levels. */
const levels: Record<number, { name: string; colour: string }> = {
  10: { name: 'TRACE', colour: '90' },
  20: { name: 'DEBUG', colour: '36' },
  30: { name: 'INFO', colour: '32' },
  40: { name: 'WARN', colour: '33' },
  50: { name: 'ERROR', colour: '31' },
  60: { name: 'FATAL', colour: '35' },
};

/** What pino adds to every line that a person at the terminal does not need again. */
const omitted = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'v']);

/** A pino destination that writes each record to `write` formatted for a terminal. */
export function prettyDestination(write: (text: string) => void, colours: boolean): { write(line: string): void } {
  const paint = (code: string, text: string) => (colours ? `\x1b[${code}m${text}\x1b[0m` : text);
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        write(line);
        return;
      }
      write(`${formatRecord(record, paint)}\n`);
    },
  };
}

export function formatRecord(record: Record<string, unknown>, paint: (code: string, text: string) => string = (_, text) => text): string {
  const level = levels[record.level as number] ?? { name: String(record.level ?? '?').toUpperCase(), colour: '0' };
  const time = typeof record.time === 'number' ? clock(new Date(record.time)) : '';
  const message = typeof record.msg === 'string' ? record.msg : '';
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [key, value] of Object.entries(record)) {
    if (omitted.has(key) || value === undefined) continue;
    if (isError(value)) {
      stack = typeof value.stack === 'string' ? value.stack : undefined;
      fields.push(`${paint('2', `${key}=`)}${quoted(String(value.message ?? ''))}`);
      continue;
    }
    // Said already: `url` in "p2pgen broker listening on ws://…".
    if (typeof value === 'string' && value.length >= 3 && message.includes(value)) continue;
    fields.push(`${paint('2', `${key}=`)}${typeof value === 'string' ? quoted(value) : JSON.stringify(value)}`);
  }
  const head = `${paint('2', time)} ${paint(level.colour, level.name.padEnd(5))} ${message}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}`;
  return stack ? `${head}\n${stack.split('\n').map((l) => `    ${l.trim()}`).join('\n')}` : head;
}

function clock(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

function quoted(text: string): string {
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

function isError(value: unknown): value is { message?: unknown; stack?: unknown } {
  return typeof value === 'object' && value !== null && 'message' in value && ('stack' in value || 'type' in value);
}
