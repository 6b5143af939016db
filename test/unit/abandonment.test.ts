import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import { responseAbandonment, type Abandonment, type ClosingResponse } from '../../src/lib/abandonment.js';

/** A response that closes, finished (sent) or not (the client went away). */
function response(): ClosingResponse & { close(finished: boolean): void } {
  const emitter = new EventEmitter();
  let finished = false;
  return {
    once: (event: 'close', listener: () => void) => emitter.once(event, listener),
    get writableFinished() {
      return finished;
    },
    close(done: boolean) {
      finished = done;
      emitter.emit('close');
    },
  };
}

/** The plain form it replaces: an AbortController aborted on an unfinished close. */
function plainSignal(res: ClosingResponse): Abandonment {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** What a statement sees: listeners added (one removed again), then the response closes. */
function scenario(make: (res: ClosingResponse) => Abandonment, finished: boolean): string[] {
  const res = response();
  const signal = make(res);
  const seen: string[] = [`before ${signal.aborted}`];
  const kept = () => seen.push('kept');
  const removed = () => seen.push('removed');
  signal.addEventListener('abort', kept, { once: true });
  signal.addEventListener('abort', kept, { once: true }); // the same listener twice is one listener
  signal.addEventListener('abort', removed, { once: true });
  signal.removeEventListener('abort', removed);
  res.close(finished);
  seen.push(`after ${signal.aborted}`);
  signal.addEventListener('abort', () => seen.push('late'), { once: true });
  res.close(finished);
  return seen;
}

describe('responseAbandonment', () => {
  it('when the client goes away before the response is complete, then it aborts and calls each listener once, as an AbortSignal does', () => {
    const seen = scenario(responseAbandonment, false);
    expect(seen).to.deep.equal(['before false', 'kept', 'after true']);
    expect(seen).to.deep.equal(scenario(plainSignal, false));
  });

  it('when the response was sent before the connection closed, then nothing aborts, as with an AbortSignal', () => {
    const seen = scenario(responseAbandonment, true);
    expect(seen).to.deep.equal(['before false', 'after false']);
    expect(seen).to.deep.equal(scenario(plainSignal, true));
  });
});
