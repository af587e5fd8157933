/**
 * Bad command-line usage: a flag out of range, a folder that is not empty, a module that cannot
 * be loaded. Every command throws this one class; main.ts prints its message with a hint to run
 * `p2pgen --help` and exits with code 2 (a failure while running is not usage: it exits 1).
 */
export class UsageError extends Error {}
