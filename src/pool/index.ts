// A pool of running tasks whose callers never wait on hung work (seed 000: a route's executor
// shutdown waited for workers hung on network I/O, and the server stopped answering). run()
// settles on the task's outcome, its abort, its timeout or the pool's shutdown, whichever comes
// first; a task that ignores its signal keeps its slot until it really settles, so the limit holds.
// The parts: contract.ts (the types and option checks), job.ts (a run's record), running.ts (the
// running phase), base.ts (admission and lifecycle, what every pool shares), idle.ts (idle and
// shutdown waits), snapshot.ts (its inspect() entry), worker-pool.ts (WorkerPool).
export { BasePool, beginQueued } from './base.js';
export * from './contract.js';
export { Job, OwnJob } from './job.js';
export { WorkerPool } from './worker-pool.js';
