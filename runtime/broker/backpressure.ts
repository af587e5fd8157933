/**
 * Back-pressure at the broker, per connection, blaming the source. When more than
 * `highWaterMark` bytes wait to be written to a connection:
 *
 * - it is not read itself until they drain (it makes no new requests and grants no credit),
 *   unless others' calls are what fills its backlog: then it is read (its answers, to those
 *   callers and to everyone else, go out as it makes them; otherwise an honest caller's answer
 *   waited in the callee's own process behind every answer to a flood of calls, issue 20);
 * - the connections that keep sending it calls (Requests and their pieces) are not read either
 *   until it drained (`fed`): whoever fills a connection's backlog waits for it, all of them
 *   alike, so a fast caller cannot push a callee others share over its bound; answers and
 *   stream items are the receiver's own doing and never pause the one who sends them (a slow
 *   consumer cannot freeze a shared callee);
 * - past `maxBufferedBytes`, new calls to it are refused (router.ts asks `overloaded`).
 *
 * A connection is closed as a slow reader (4001) only for bytes of its own doing (answers,
 * stream items and events it asked for, not calls others sent it): past `maxBufferedBytes` of
 * them and taking no bytes for a second, or past twice that whatever it does. A connection that
 * takes nothing at all is dropped by the heartbeat, which frees those waiting for it. What the
 * broker holds for one connection stays bounded: its own bytes by twice the bound, calls others
 * sent it by the bound (new ones are refused past it) plus the frame each feeder had started.
 *
 * A connection is also not read while too many of its own frames are held for security
 * decisions (access.ts). A connection kept waiting for others (feeding or holding) is told so
 * every second (a `waiting` event), so its client, which hears the broker, does not take the
 * broker for dead while its pings wait unread; the heartbeat does not ask it for signs of life.
 *
 * The one owner of each connection's flow state (in its `flowOf` slot).
 */
import { FrameType } from '../wire/frame.js';
import { jsonFrame } from '../wire/text.js';
import type { WaitingEvent } from '../wire/control.js';
import { BrokerConnection, type WriteWatcher } from './connection.js';
import type { BrokerPart } from './part.js';
import type { RouteEndpoint } from './route.js';
import { Slot } from './slot.js';

interface FlowState {
  /** Too many bytes wait to be written to it, until they drain. */
  backedUp: boolean;
  /** Backed up by bytes of its own doing (no feeder yet): not read until they drain. */
  selfPaused: boolean;
  /** Too many of its frames are held for security decisions (access.ts): not read until they are in. */
  holding: boolean;
  /** Backed-up connections it sent calls to, which it waits for (not read meanwhile). */
  feeding: number;
  /** While backed up: the connections waiting for it to drain. */
  feeders: Set<BrokerConnection> | undefined;
  /** While backed up: bytes of calls others sent it (not of its own doing). */
  fedBytes: number;
  /** Past maxBufferedBytes: watched for progress (a close as slow reader may follow). */
  watching: boolean;
  /** A close as slow reader is scheduled. */
  closing: boolean;
}

const flowOf = new Slot<FlowState>();

/** How often a connection past maxBufferedBytes is looked at: taking no bytes for that long, it is closed. */
const PROGRESS_CHECK_MS = 1000;

/** How often a connection kept waiting for others is told so (clients take a broker silent for 10 s by default for dead). */
const WAITING_NOTICE_MS = 1000;

const waitingNotice: WaitingEvent = { type: 'waiting' };

export interface BackpressureStats {
  /** Connections not being read because too many bytes wait to be written to them (or to those they call). */
  pausedConnections: number;
}

export class Backpressure implements WriteWatcher, BrokerPart {
  private paused = 0;
  /** Connections not read because of others (feeding a backed-up one, or frames held for decisions). */
  private readonly waiting = new Set<BrokerConnection>();
  private noticeTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly highWaterMark: number,
    readonly maxBufferedBytes: number,
    /** Closes a connection that does not read (called outside any send). */
    private readonly closeSlowReader: (connection: BrokerConnection, buffered: number) => void,
  ) {}

  /** Something was just sent to `connection`, which now buffers `buffered` bytes (over the high-water mark). */
  backedUp(connection: BrokerConnection, buffered: number): void {
    if (!connection.isOpen) return;
    const flow = stateOf(connection);
    if (buffered - flow.fedBytes > this.maxBufferedBytes) this.watchProgress(connection, flow, buffered);
    if (flow.backedUp) return;
    flow.backedUp = true;
    flow.selfPaused = true;
    this.update(connection, flow, true);
    connection.onceDrained(() => {
      if (!flow.backedUp) return;
      flow.backedUp = false;
      flow.fedBytes = 0;
      if (flow.selfPaused) {
        flow.selfPaused = false;
        this.update(connection, flow, false);
      }
      const feeders = flow.feeders;
      flow.feeders = undefined;
      if (feeders) for (const feeder of feeders) this.stopFeeding(feeder);
    });
  }

  /**
   * `source` just sent a call (or a piece of one, `bytes` long) to `target`: if the target is
   * backed up, the source is not read until the target drained.
   */
  fed(source: RouteEndpoint, target: RouteEndpoint, bytes: number): void {
    if (!(target instanceof BrokerConnection) || source === target) return;
    const targetFlow = flowOf.get(target);
    if (!targetFlow?.backedUp) return;
    targetFlow.fedBytes += bytes;
    // Another broker of the cluster is never paused (it carries everyone's calls); its own link has back-pressure.
    if (!(source instanceof BrokerConnection) || !source.isOpen) return;
    const feeders = (targetFlow.feeders ??= new Set());
    if (feeders.has(source)) return;
    feeders.add(source);
    if (targetFlow.selfPaused) {
      // Others' calls fill its backlog: read it, so its answers go out (they are bounded by the calls, which now wait).
      targetFlow.selfPaused = false;
      this.update(target, targetFlow, false);
    }
    const flow = stateOf(source);
    flow.feeding++;
    if (flow.feeding === 1) this.update(source, flow, true);
  }

  /** Whether `target` is past maxBufferedBytes: new calls to it are refused until it reads. */
  overloaded(target: RouteEndpoint): boolean {
    return target instanceof BrokerConnection && target.bufferedAmount > this.maxBufferedBytes;
  }

  /** Frames of `caller` held for security decisions passed the bound (`true`), or were let go (only connections are paused). */
  holding(caller: RouteEndpoint, holding: boolean): void {
    if (!(caller instanceof BrokerConnection) || !caller.isOpen) return;
    const flow = stateOf(caller);
    if (flow.holding === holding) return;
    flow.holding = holding;
    this.update(caller, flow, holding);
  }

  /** Whether `connection` is not read because of others: the heartbeat does not ask it for signs of life meanwhile. */
  waitingForOthers(connection: BrokerConnection): boolean {
    return this.waiting.has(connection);
  }

  stats(): BackpressureStats {
    return { pausedConnections: this.paused };
  }

  close(): void {
    clearInterval(this.noticeTimer);
    this.noticeTimer = undefined;
  }

  /** `connection` is going away: it is no longer counted as paused, and those waiting for it carry on. */
  connectionClosed(connection: BrokerConnection): void {
    const flow = flowOf.get(connection);
    flowOf.set(connection, undefined);
    if (!flow) return;
    if (reasons(flow) > 0) this.paused--;
    this.waiting.delete(connection);
    // A drain that comes later must find nothing to undo.
    flow.backedUp = flow.selfPaused = flow.holding = false;
    flow.feeding = flow.fedBytes = 0;
    const feeders = flow.feeders;
    flow.feeders = undefined;
    if (feeders) for (const feeder of feeders) this.stopFeeding(feeder);
  }

  /** A target `feeder` waited for drained (or left): one reason less not to read it. */
  private stopFeeding(feeder: BrokerConnection): void {
    const flow = flowOf.get(feeder);
    if (!flow || flow.feeding === 0) return;
    flow.feeding--;
    if (flow.feeding === 0) this.update(feeder, flow, false);
  }

  /**
   * Past maxBufferedBytes: the connection is looked at every PROGRESS_CHECK_MS; one that took no
   * bytes since the last look, or that holds twice the bound, is closed as a slow reader.
   */
  private watchProgress(connection: BrokerConnection, flow: FlowState, buffered: number): void {
    if (flow.closing) return;
    if (buffered > 2 * this.maxBufferedBytes) return this.closeAsSlowReader(connection, flow, buffered);
    if (flow.watching) return;
    flow.watching = true;
    let mark = connection.writeProgress();
    const look = () => {
      if (!connection.isOpen || flowOf.get(connection) !== flow) return;
      const now = connection.bufferedAmount;
      if (now - flow.fedBytes <= this.maxBufferedBytes) {
        flow.watching = false;
        return;
      }
      const progress = connection.writeProgress();
      if (progress.queued === mark.queued && progress.waiting >= mark.waiting) return this.closeAsSlowReader(connection, flow, now);
      mark = progress;
      setTimeout(look, PROGRESS_CHECK_MS).unref();
    };
    setTimeout(look, PROGRESS_CHECK_MS).unref();
  }

  private closeAsSlowReader(connection: BrokerConnection, flow: FlowState, buffered: number): void {
    if (flow.closing) return;
    flow.closing = true;
    // Not from inside a send: the caller may be in the middle of walking route tables.
    queueMicrotask(() => this.closeSlowReader(connection, buffered));
  }

  /** One reason to pause came (`on`) or went: reading stops with the first and restarts after the last. */
  private update(connection: BrokerConnection, flow: FlowState, on: boolean): void {
    if (flow.feeding > 0 || flow.holding) this.startWaiting(connection);
    else this.waiting.delete(connection);
    const count = reasons(flow);
    if (on && count === 1) {
      this.paused++;
      connection.pauseReading();
    } else if (!on && count === 0) {
      this.paused--;
      connection.resumeReading();
    }
  }

  private startWaiting(connection: BrokerConnection): void {
    this.waiting.add(connection);
    this.noticeTimer ??= setInterval(() => {
      if (this.waiting.size === 0) {
        clearInterval(this.noticeTimer);
        this.noticeTimer = undefined;
        return;
      }
      const notice = jsonFrame(FrameType.Event, 0, waitingNotice);
      for (const waiting of this.waiting) waiting.send(notice);
    }, WAITING_NOTICE_MS).unref();
  }
}

function reasons(flow: FlowState): number {
  return (flow.selfPaused ? 1 : 0) + (flow.holding ? 1 : 0) + (flow.feeding > 0 ? 1 : 0);
}

function stateOf(connection: BrokerConnection): FlowState {
  let flow = flowOf.get(connection);
  if (!flow) flowOf.set(connection, (flow = { backedUp: false, selfPaused: false, holding: false, feeding: 0, feeders: undefined, fedBytes: 0, watching: false, closing: false }));
  return flow;
}
