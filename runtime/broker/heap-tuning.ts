/**
 * V8's young generation, kept at its starting size in a process whose main work is forwarding
 * large frames. A broker keeps a few small objects alive per call in flight (a route, its table
 * entries) long enough that V8 sees them survive and grows the young generation (to 32 MiB),
 * so scavenges come seldom; meanwhile every frame read from a socket is a buffer outside the
 * heap that only a GC frees. With 16 KiB frames tens of megabytes of them piled up between
 * scavenges and V8 answered with full mark-compacts for "external memory pressure", about 50
 * in a bench run of three 4.5 s repetitions: 15-22% of the broker's CPU, against 2.5% in a bare `ws` relay whose young generation
 * stays small. Kept small, the young generation is scavenged every MiB of allocation, frames
 * die young, and those mark-compacts went. Since the broker writes its frames itself
 * (ws-frame-writer.ts) it allocates so little on its heap per frame that the flag no longer
 * changes what the collector does (docs/performance.md, "Large payloads"); it is kept for
 * workloads where a profile shows otherwise.
 *
 * It has a price, so it is a choice: what lives a little longer than a scavenge is promoted, and
 * the old generation grows more under allocation-heavy work. A flood of 1,000 listings of 10,000
 * peers (`npm run attacks`, listing-burst) peaked at 627-657 MiB of RSS with it, 417-595 MiB
 * without, and took 18 s instead of 14. It sets a V8 flag for the whole process, so the broker
 * never does it on its own: `p2pgen broker --small-young-generation` calls it at start, and an
 * application that runs a broker in a process of its own may (or start Node with
 * `--max-semi-space-size=1`).
 */
import { setFlagsFromString } from 'node:v8';

export function keepYoungGenerationSmall(): void {
  // The young generation grows by this factor when V8 decides to grow it: 1 keeps its size.
  setFlagsFromString('--semi-space-growth-factor=1');
}
