/**
 * The options Node should start a broker's process with. V8 reads them once, when the process
 * starts (`v8.setFlagsFromString` later changes nothing), so a broker cannot set them for
 * itself: its process is started with them (`node --no-concurrent-array-buffer-sweeping
 * broker.js`; the scaffold's `npm run broker` does), and `p2pgen broker` logs the ones its Node
 * lacks (docs/operations.md says why it does not start a second process with them).
 *
 * `--no-concurrent-array-buffer-sweeping`: every frame a broker reads is a buffer outside the
 * JavaScript heap, freed by the collection that finds it dead. V8 frees the young ones on a
 * helper thread after each scavenge and counts them as still allocated until that thread is
 * done; a broker allocates so little on its heap that a scavenge comes only every 32 MiB of
 * such buffers, so the count it sees climbs past the old generation's limit and V8 answers
 * with full mark-compacts: about 45 in 4 s of 16 KiB calls (15-20% of the broker's CPU), where
 * a bare `ws` relay, whose heap garbage brings a scavenge about every 25 ms, has none. Freed on
 * the main thread right after the scavenge, they are counted as freed at once: no mark-compacts,
 * and the broker's CPU per 16 KiB call fell by 10-15% (docs/operations.md, bench row "S3 broker
 * node options"). 64 B calls and 64 KiB streams measured about the same with it or without.
 */
export const brokerNodeOptions: readonly string[] = Object.freeze(['--no-concurrent-array-buffer-sweeping']);
