import fc from 'fast-check';
import { expect, test } from 'vitest';
import { fanOut, Semaphore } from '../../src/index.js';

const item = fc.record({ fail: fc.boolean(), ignoresAbort: fc.boolean() });

test('fan-outs sharing semaphores under random completion order, failures and aborts keep every bound', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.integer({ min: 1, max: 4 }), // the shared semaphore's permits
      fc.array(
        fc.record({
          window: fc.integer({ min: 1, max: 4 }),
          settle: fc.boolean(),
          abortAt: fc.option(fc.nat(6), { nil: undefined }),
          items: fc.array(item, { maxLength: 8 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      async (s, permits, calls) => {
        const shared = new Semaphore(permits);
        let inShared = 0;
        let running = 0;
        const violations: string[] = []; // recorded, not thrown: a throw inside fn is an item error
        const outcomes = calls.map(async (call, c) => {
          const controller = new AbortController();
          let inFlight = 0;
          let started = 0;
          const promise = fanOut(
            call.items,
            async (it, { signal, index }) => {
              inFlight++;
              inShared++;
              running++;
              started++;
              if (inFlight > call.window)
                violations.push(`call ${c}: ${inFlight} in flight > window ${call.window}`);
              if (inShared > permits)
                violations.push(`${inShared} holding the semaphore > ${permits} permits`);
              if (call.abortAt === started) controller.abort(new Error(`abort ${c}`));
              try {
                // Completion order is the scheduler's choice; some calls ignore their abort.
                if (it.ignoresAbort || !signal.aborted)
                  await s.schedule(Promise.resolve(), `call ${c}.${index}`);
                if (it.fail) throw new Error(`item ${c}.${index}`);
                return index;
              } finally {
                inFlight--;
                inShared--;
                running--;
              }
            },
            { window: call.window, semaphores: [shared], signal: controller.signal, settle: call.settle },
          );
          try {
            const result = await promise;
            expect(inFlight).toBe(0); // nothing it started is still running
            expect(result).toHaveLength(call.items.length);
            if (!call.settle) expect(result).toEqual(call.items.map((_, i) => i));
            else
              result.forEach((r, i) => {
                const settled = r as PromiseSettledResult<number>;
                if (call.items[i]!.fail) expect(settled.status).toBe('rejected');
                else expect(settled).toEqual({ status: 'fulfilled', value: i });
              });
            return 'resolved';
          } catch (error) {
            const message = (error as Error).message;
            if (message.startsWith('abort')) {
              // The caller's abort settles it at once; calls still in flight keep their window place
              // and permits until they settle (the violations and the final checks below).
              expect(call.abortAt).toBeDefined();
            } else {
              expect(inFlight).toBe(0); // a failed item: it waited for the calls it aborted
              expect(call.settle).toBe(false);
              expect(message).toMatch(/^item /);
            }
            return 'rejected';
          }
        });
        await s.waitFor(Promise.all(outcomes));
        await s.waitAll(); // calls an aborted fan-out left running, holding their permits, settle now
        expect(violations).toEqual([]);
        expect(running).toBe(0);
        expect(shared.available).toBe(permits);
        expect(shared.waiting).toBe(0);
      },
    ),
    { numRuns: 150 },
  );
});
