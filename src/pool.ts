// A pool of running tasks whose callers never wait on hung work (seed 000: a route's executor
// shutdown waited for workers hung on network I/O, and the server stopped answering). run()
// settles on the task's outcome, its abort, its timeout or the pool's shutdown, whichever comes
// first; a task that ignores its signal keeps its slot until it really settles, so the limit holds.
// The parts live in pool/: contract.ts (the types), job.ts (a run's record), base.ts (what every
// pool shares), worker-pool.ts (WorkerPool).
export { BasePool, beginQueued } from './pool/base.js';
export * from './pool/contract.js';
export { Job, OwnJob } from './pool/job.js';
export { WorkerPool } from './pool/worker-pool.js';
