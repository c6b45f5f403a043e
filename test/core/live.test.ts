// What the inspector can list (src/core/live.ts): long-lived primitives, held weakly, and per-call
// work (a fanOut call, a withTimeout call) listed only while it runs, with its start and end
// published on diagnostics_channel to whoever subscribes.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, test } from 'vitest';
import { endCall, register, snapshots, startCall, unregister } from '../../src/core/live.js';
import { type Call, type Described, type PrimitiveSnapshot, UNTIMED } from '../../src/core/track.js';
import type { Link } from '../../src/core/waiters.js';

class TestCall implements Call {
  since = UNTIMED;
  prev: Link | undefined = undefined;
  next: Link | undefined = undefined;
  linked = false;
  declare weak?: WeakRef<Call>;
  constructor(
    readonly kind: string,
    readonly what: string,
  ) {}
  describeCall() {
    return { what: this.what, timeout: 50 };
  }
}

const ofKind = (kind: string) =>
  snapshots({ limit: Number.POSITIVE_INFINITY }).filter((s) => s.kind === kind);

describe('register', () => {
  test('lists a primitive through its describe function until it is unregistered', () => {
    const primitive = { size: 3 };
    const describe = (p: { size: number }): Described => ({
      kind: 'test-primitive',
      name: 'p',
      summary: `${p.size} things`,
      stats: { size: p.size },
    });
    const token = register(primitive, describe);
    primitive.size = 4; // described at each snapshot, not at registration
    expect(ofKind('test-primitive').map((s) => s.summary)).toEqual(['4 things']);
    unregister(token);
    expect(ofKind('test-primitive')).toEqual([]);
  });
});

describe('startCall and endCall', () => {
  test('a running call is listed under its kind until it ends', () => {
    const [a, b] = [new TestCall('test-call', 'item a'), new TestCall('test-call', 'item b')];
    startCall(a);
    startCall(b);
    const [running] = ofKind('test-call') as [PrimitiveSnapshot];
    expect(running.summary).toBe('2 calls running');
    expect(running.waits.map((w) => [w.key, w.what, w.timeout])).toEqual([
      [a, 'item a', 50],
      [b, 'item b', 50],
    ]);
    endCall(a, 'granted');
    expect(ofKind('test-call')[0]!.waits.map((w) => w.key)).toEqual([b]);
    endCall(b, 'failed');
    expect(ofKind('test-call')).toEqual([]);
  });

  test('a call started weakly is listed too, and unlisted when it ends', () => {
    const call = new TestCall('test-weak', 'lazy');
    startCall(call, undefined, true);
    expect(call.weak?.deref()).toBe(call);
    expect(ofKind('test-weak')[0]!.summary).toBe('1 call running');
    endCall(call, 'aborted');
    expect(ofKind('test-weak')).toEqual([]);
  });

  test('publishes unwedge:wait:start and unwedge:wait:end, with the outcome, only while someone subscribes', () => {
    const messages: Array<[string, unknown]> = [];
    const onStart = (m: unknown) => messages.push(['start', m]);
    const onEnd = (m: unknown) => messages.push(['end', m]);
    const unseen = new TestCall('test-published', 'before');
    startCall(unseen);
    subscribe('unwedge:wait:start', onStart);
    subscribe('unwedge:wait:end', onEnd);
    try {
      endCall(unseen, 'granted'); // its start was not published: no end either
      const call = new TestCall('test-published', 'item 1');
      startCall(call);
      endCall(call, 'timeout');
    } finally {
      unsubscribe('unwedge:wait:start', onStart);
      unsubscribe('unwedge:wait:end', onEnd);
    }
    expect(messages).toEqual([
      [
        'start',
        expect.objectContaining({ kind: 'test-published', name: undefined, what: 'item 1', timeout: 50 }),
      ],
      ['end', expect.objectContaining({ kind: 'test-published', what: 'item 1', outcome: 'timeout' })],
    ]);
    const [[, start], [, end]] = messages as [
      [string, { id: number }],
      [string, { id: number; duration: number }],
    ];
    expect(end.id).toBe(start.id);
    expect(end.duration).toBeGreaterThanOrEqual(0);
  });
});
