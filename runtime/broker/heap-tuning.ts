/**
 * V8's `--semi-space-growth-factor=1`, set at run time (`p2pgen broker --small-young-generation`).
 * It was meant to keep the young generation at its starting size, so that scavenges come often
 * and free the buffers a broker reads from its sockets before they pile up (with 16 KiB frames
 * V8 answered the pile with full mark-compacts, 15-22% of the broker's CPU). It no longer
 * measurably helps: under 16 KiB calls the young generation grows to 16 MiB per semi-space with
 * the flag as without it. What does remove those mark-compacts is a flag V8 reads only at a
 * process's start, `--no-concurrent-array-buffer-sweeping` (brokerNodeOptions, node-flags.ts).
 *
 * It has a price, so it is a choice: what lives a little longer than a scavenge is promoted, and
 * the old generation grows more under allocation-heavy work. A flood of 1,000 listings of 10,000
 * peers (`npm run attacks`, listing-burst) peaked at 627-657 MiB of RSS with it, 417-595 MiB
 * without, and took 18 s instead of 14. It sets a V8 flag for the whole process, so the broker
 * never does it on its own.
 */
import { setFlagsFromString } from 'node:v8';

export function keepYoungGenerationSmall(): void {
  // The young generation grows by this factor when V8 decides to grow it: 1 keeps its size.
  setFlagsFromString('--semi-space-growth-factor=1');
}
