import { expect } from 'chai';
import { nextScheduledRun } from '../../src/domain/schedule.js';

const at = (h: number, m = 0) => {
  const d = new Date(2026, 11, 7, h, m, 0, 0);
  return d;
};

describe('the next scheduled run of a source', () => {
  it('when a source runs daily at 02:00 and it is 01:30, then the next run is at 02:00 the same day', () => {
    expect(nextScheduledRun({ schedule: '0 2 * * *', enabled: true, nextRetryAt: null }, at(1, 30))).to.deep.equal(at(2));
  });

  it('when it is past 02:00, then the next run is 02:00 the next day', () => {
    const next = nextScheduledRun({ schedule: '0 2 * * *', enabled: true, nextRetryAt: null }, at(3));
    expect(next).to.deep.equal(new Date(2026, 11, 8, 2, 0, 0, 0));
  });

  it('when the source backs off until 04:10 on a 15-minute schedule, then the ticks before are skipped and the next run is 04:15', () => {
    expect(nextScheduledRun({ schedule: '*/15 * * * *', enabled: true, nextRetryAt: at(4, 10) }, at(3))).to.deep.equal(at(4, 15));
  });

  it('when the back-off ends exactly on a tick, then that tick runs', () => {
    expect(nextScheduledRun({ schedule: '*/15 * * * *', enabled: true, nextRetryAt: at(4, 15) }, at(3))).to.deep.equal(at(4, 15));
  });

  it('when the source is disabled or has no schedule, then there is no next run', () => {
    expect(nextScheduledRun({ schedule: '0 2 * * *', enabled: false, nextRetryAt: null }, at(1))).to.equal(undefined);
    expect(nextScheduledRun({ schedule: null, enabled: true, nextRetryAt: null }, at(1))).to.equal(undefined);
  });

  it('when the expression has seconds (node-cron accepts six fields), then they are honoured', () => {
    expect(nextScheduledRun({ schedule: '30 0 2 * * *', enabled: true, nextRetryAt: null }, at(1))).to.deep.equal(new Date(2026, 11, 7, 2, 0, 30, 0));
  });
});
