// What watching a server costs each request: a node:http server given to Lifecycle.use() adds a
// 'request' listener, a Set entry and a 'close' listener per request (to name the requests in
// flight at a deadline), and a Set entry per connection. The same server with and without it, on
// loopback, 16 keep-alive clients at once, interleaved rounds (bench/harness.ts), µs per request.
//
//   node --expose-gc --import tsx bench/lifecycle-server.ts [--quick]
import { once } from 'node:events';
import { Agent, createServer, get, type Server } from 'node:http';
import { Lifecycle } from '../src/lifecycle/lifecycle.js';
import { compare } from './harness.js';

const quick = process.argv.includes('--quick');
const REQUESTS = quick ? 200 : 20_000;
const CLIENTS = 16;

async function start(watched: boolean): Promise<{ server: Server; port: number; life: Lifecycle }> {
  const life = new Lifecycle({ timeout: 1_000 });
  const server = createServer((_req, res) => res.end('ok'));
  if (watched) life.use(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, life };
}

function load(port: number, agent: Agent): Promise<void> {
  let sent = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject);
    });
  const client = async () => {
    while (sent < REQUESTS) {
      sent++;
      await one();
    }
  };
  return Promise.all(Array.from({ length: CLIENTS }, client)).then(() => undefined);
}

const plain = await start(false);
const watched = await start(true);
const agents = [new Agent({ keepAlive: true }), new Agent({ keepAlive: true })];
const results = await compare(
  [
    { name: 'node:http server', run: () => load(plain.port, agents[0]!) },
    { name: 'the same, in Lifecycle.use()', run: () => load(watched.port, agents[1]!) },
  ],
  REQUESTS,
  quick ? 1 : 7,
);
for (const agent of agents) agent.destroy();
plain.server.close();
await watched.life.shutdown();
console.log(`Node ${process.version}, ${REQUESTS} requests per round, ${CLIENTS} keep-alive clients\n`);
console.log('| server | µs per request (median) | min | max |');
console.log('|---|---:|---:|---:|');
for (const r of results) {
  const us = (ns: number) => (ns / 1_000).toFixed(1);
  console.log(`| ${r.name} | ${us(r.median)} | ${us(r.min)} | ${us(r.max)} |`);
}
