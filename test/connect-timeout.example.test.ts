import { expect, test } from 'vitest';
import { connectTimeoutStory } from '../examples/connect-timeout.js';

test('seed 003 on real sockets: the unguarded connect hangs the request, withTimeout answers 504 in time', async () => {
  const result = await connectTimeoutStory();
  expect(result.naive.status).toBeUndefined(); // no answer within the client's 1.5 s limit
  expect(result.naive.openConnections).toBe(3); // every hung connect still holds a socket
  expect(result.unwedge.status).toBe(504);
  expect(result.unwedge.body).toContain('"db-connect" timed out after 300 ms');
  expect(result.unwedge.ms).toBeLessThan(800);
  expect(result.unwedge.openConnections).toBe(0); // the timeout aborted the connects
  expect(result.unwedge.health.max).toBeLessThan(100);
  expect(result.cured).toBe(true);
});
