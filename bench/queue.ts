// Queue workload: 1,000,000 items from one producer to one consumer through capacity 1024, each
// side awaiting every put and get, beside the hand-written floor channel and Effect's Queue.bounded.
//
//   node --expose-gc --import tsx bench/queue.ts [--items N] [--rounds R]

import { pathToFileURL } from 'node:url';
import { Effect, Fiber, Queue } from 'effect';
import { BoundedQueue } from '../src/queue/queue.js';
import { FloorChannel } from './floor/channel.js';
import { compare, type Measured, table } from './harness.js';

interface Channel {
  put(item: number): Promise<void>;
  get(): Promise<number>;
}

/** One producer awaiting each put, one consumer awaiting each get; checks that every item arrived. */
function channelWorkload(make: () => Channel, items: number) {
  return async () => {
    const channel = make();
    const producer = (async () => {
      for (let i = 0; i < items; i++) await channel.put(i);
    })();
    let sum = 0;
    for (let i = 0; i < items; i++) sum += await channel.get();
    await producer;
    check(sum, items);
  };
}

function effectWorkload(capacity: number, items: number) {
  const program = Effect.gen(function* () {
    const queue = yield* Queue.bounded<number>(capacity);
    const producer = yield* Effect.fork(
      Effect.gen(function* () {
        for (let i = 0; i < items; i++) yield* Queue.offer(queue, i);
      }),
    );
    let sum = 0;
    for (let i = 0; i < items; i++) sum += yield* Queue.take(queue);
    yield* Fiber.join(producer);
    return sum;
  });
  return async () => check(await Effect.runPromise(program), items);
}

function check(sum: number, items: number): void {
  if (sum !== (items * (items - 1)) / 2) throw new Error(`lost or duplicated items: sum ${sum}`);
}

export async function queueBench(
  options: { items?: number; rounds?: number; capacity?: number; progress?: (t: string) => void } = {},
): Promise<{ items: number; capacity: number; results: Measured[] }> {
  const items = options.items ?? 1_000_000;
  const capacity = options.capacity ?? 1024;
  const contenders = [
    { name: 'floor', run: channelWorkload(() => new FloorChannel<number>(capacity), items) },
    {
      name: 'unwedge BoundedQueue',
      run: channelWorkload(() => new BoundedQueue<number>({ capacity }), items),
    },
    { name: 'effect Queue.bounded', run: effectWorkload(capacity, items) },
  ];
  const results = await compare(contenders, items, options.rounds ?? 5, options.progress);
  return { items, capacity, results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? undefined : Number(process.argv[i + 1]);
  };
  const { items, capacity, results } = await queueBench({
    items: arg('--items'),
    rounds: arg('--rounds'),
    progress: (t) => process.stderr.write(`${t}\r`),
  });
  console.log(table(`BoundedQueue put/get, ${items} items, capacity ${capacity}`, results, 'floor'));
}
