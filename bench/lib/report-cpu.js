/**
 * Loaded with `node --import` into a process a benchmark measures: at exit it reports the CPU
 * time the whole process used (every thread: the JIT's and the garbage collector's too), on
 * stderr as `cpu-ms <n>`, so a benchmark can read it back (Node has no rusage of a child).
 */
process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  process.stderr.write(`\ncpu-ms ${Math.round((user + system) / 1000)}\n`);
});
