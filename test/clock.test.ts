import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { every, ManualClock, systemClock, wallClockNow } from '../src/clock.js';

void describe('the clock', () => {
  void test('every runs once for each interval that passes on a ManualClock, and not after stop()', () => {
    const clock = new ManualClock(0);
    const runs: number[] = [];
    const ticker = every(clock, 1000, () => runs.push(clock.now()));
    clock.advance(999);
    assert.deepEqual(runs, []);
    clock.advance(2500);
    assert.deepEqual(runs, [1000, 2000, 3000]);
    ticker.stop();
    clock.advance(10_000);
    assert.deepEqual(runs, [1000, 2000, 3000]);
    assert.equal(clock.pendingTimers(), 0);
  });

  void test('wallClockNow is the calendar on the system clock and the clock itself on a ManualClock', () => {
    const before = Date.now();
    const wall = wallClockNow(systemClock);
    assert.ok(wall >= before && wall <= Date.now(), `${wall} not within [${before}, now]`);
    assert.equal(wallClockNow(new ManualClock(1_000_000)), 1_000_000);
  });
});
