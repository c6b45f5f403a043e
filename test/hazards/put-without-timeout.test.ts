// Hazard: put-without-timeout (docs/hazards/put-without-timeout.md). Seed 001 on a real loopback
// server: the consumer dies, the queue fills, and the next request's put() has nothing to wait for.
import { expect, test } from 'vitest';
import { get, probe } from '../../examples/lib/http.js';
import { PUT_TIMEOUT_MS, startStuckQueueServer } from '../../examples/stuck-queue-server.js';

/** The first two calls of the story: one normal job, then the one that kills the consumer and fills the queue. */
async function killConsumer(port: number) {
  expect((await get(port, '/transcribe')).status).toBe(202);
  expect((await get(port, '/transcribe?block=1')).status).toBe(202);
}

test('put with a timeout answers 503 naming the full queue within the timeout while /healthz keeps answering', async () => {
  const server = await startStuckQueueServer({ putTimeout: PUT_TIMEOUT_MS });
  try {
    await killConsumer(server.port);
    expect(server.consumerAlive()).toBe(false);
    expect(server.queue.size).toBe(server.queue.capacity);

    const health = probe(server.port, '/healthz', 20);
    const reply = await get(server.port, '/transcribe', 5_000);
    const healthz = await health.stop();

    expect(reply.status).toBe(503);
    expect(reply.ms).toBeGreaterThanOrEqual(PUT_TIMEOUT_MS - 5);
    expect(reply.ms).toBeLessThan(PUT_TIMEOUT_MS + 500);
    const { error } = JSON.parse(reply.body) as { error: string };
    expect(error).toMatch(
      /^queue "transcribe-jobs" stayed full for 300 ms; the item was not added \(capacity 1, last get \d+ ms ago\)$/,
    );
    // /healthz answered every probe, promptly (a missed probe counts as 1000 ms).
    expect(healthz.count).toBeGreaterThanOrEqual(5);
    expect(healthz.max).toBeLessThan(250);
    // The refused job was not added.
    expect(server.queue.size).toBe(1);
  } finally {
    await server.close();
  }
});

test('the naive put(job) hangs the request past any client limit while /healthz still says ok', async () => {
  const server = await startStuckQueueServer({});
  try {
    await killConsumer(server.port);
    const health = probe(server.port, '/healthz', 20);
    const reply = await get(server.port, '/transcribe', 800);
    const healthz = await health.stop();
    expect(reply.status).toBeUndefined(); // no answer at all: the client gave up
    expect(reply.ms).toBeGreaterThanOrEqual(795);
    expect(healthz.max).toBeLessThan(250); // the process looks healthy, so nothing restarts it
  } finally {
    await server.close(); // the immediate shutdown rejects the hung put, so the handler ends
  }
});

test('with consume(), the crash is reported and the queue keeps draining', async () => {
  const server = await startStuckQueueServer({ putTimeout: PUT_TIMEOUT_MS, consumer: 'consume' });
  try {
    await killConsumer(server.port);
    const reply = await get(server.port, '/transcribe', 5_000);
    expect(reply.status).toBe(202);
    expect(reply.ms).toBeLessThan(PUT_TIMEOUT_MS);
    expect(server.reported).toHaveLength(1);
    expect(String(server.reported[0])).toContain('transcriber crashed on task-1-crash');
    expect(server.consumerAlive()).toBe(true);
  } finally {
    await server.close();
  }
});
