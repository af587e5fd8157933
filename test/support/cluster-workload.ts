/**
 * Peers that call each other all the time, for the cluster's fault tests: each peer registers
 * `p<i>`, serves /behaviors, and calls a random other peer's identity(n) in a loop until
 * stopped. What a test asserts on is kept: every outcome (with mayHaveRun for failures), when
 * each peer last answered a call, and every client event (registration-lost must not happen).
 * Bounded: each loop stops by itself after `maxCalls`.
 */
import { RpcError, RpcWebSocketClient, type ClientEvent } from '../../runtime/index.node.js';
import { BehaviorsController } from '../fixtures/behaviors/behaviors.js';

export interface Workload {
  readonly ids: readonly string[];
  readonly clients: readonly RpcWebSocketClient[];
  readonly events: ClientEvent[];
  /** Calls answered, and failures (by code and whether they may have run). */
  readonly ok: () => number;
  readonly failures: RpcError[];
  /** Each failed call: its text (what `ran` is keyed by) and when it was made (Date.now()). */
  readonly failed: { error: RpcError; text: string; startedAt: number }[];
  /** Every (caller's call number) a callee ran, to find a call that ran twice. */
  readonly ran: Map<string, number>;
  /** Date.now() when each peer last answered a call. */
  readonly lastAnswered: Map<string, number>;
  /** Stops the loops and waits for them. */
  stop(): Promise<void>;
  disconnect(): Promise<void>;
}

class CountingBehaviors extends BehaviorsController {
  constructor(
    private readonly id: string,
    private readonly ran: Map<string, number>,
    private readonly lastAnswered: Map<string, number>,
  ) {
    super();
  }

  override echo(text: string): string {
    this.ran.set(text, (this.ran.get(text) ?? 0) + 1);
    this.lastAnswered.set(this.id, Date.now());
    return text;
  }
}

/**
 * `urlsOf(i)`: the broker list of peer i (its own broker first). Calls carry a short timeout so
 * a call lost inside a dying server fails within the test.
 */
export async function startWorkload(count: number, urlsOf: (i: number) => string[], options: { timeoutMs?: number; maxCalls?: number } = {}): Promise<Workload> {
  const ids = Array.from({ length: count }, (_, i) => `p${i}`);
  const events: ClientEvent[] = [];
  const failures: RpcError[] = [];
  const failed: { error: RpcError; text: string; startedAt: number }[] = [];
  const ran = new Map<string, number>();
  const lastAnswered = new Map<string, number>();
  let ok = 0;
  let running = true;
  const clients = await Promise.all(
    ids.map(async (id, i) => {
      const client = new RpcWebSocketClient(urlsOf(i), { reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, timeoutMs: options.timeoutMs ?? 5000 });
      client.events.subscribe((e) => events.push(e));
      await client.connect();
      client.registerController('/behaviors', new CountingBehaviors(id, ran, lastAnswered));
      await client.registerAsPeer(id);
      return client;
    }),
  );
  const maxCalls = options.maxCalls ?? 100_000;
  const loops = clients.map(async (client, i) => {
    for (let n = 0; running && n < maxCalls; n++) {
      const target = ids[(i + 1 + Math.floor(Math.random() * (count - 1))) % count]!;
      // Unique per call: a call that ran twice shows up in `ran`.
      const text = `${i}:${n}`;
      const startedAt = Date.now();
      try {
        await client.peer(target).controller<BehaviorsController>('/behaviors').echo(text);
        ok++;
      } catch (error) {
        failures.push(error as RpcError);
        failed.push({ error: error as RpcError, text, startedAt });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  });
  return {
    ids,
    clients,
    events,
    ok: () => ok,
    failures,
    failed,
    ran,
    lastAnswered,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
    disconnect: async () => {
      running = false;
      await Promise.all(clients.map((c) => c.disconnect()));
      await Promise.all(loops);
    },
  };
}

/** The failures, summed up by code and mayHaveRun (for assertion messages). */
export function failureSummary(failures: readonly RpcError[]): Record<string, number> {
  const summary: Record<string, number> = {};
  for (const f of failures) {
    const key = `${f.code}${f.mayHaveRun ? '' : ' (never ran)'}`;
    summary[key] = (summary[key] ?? 0) + 1;
  }
  return summary;
}
