import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config.js';

/** README, Configuration: "a bad value stops the process with a message naming it". */
describe('Configuration: bad values are refused with a message naming the variable', () => {
  for (const [name, value] of [
    ['LOG_LEVEL', 'bogus'],
    ['SMTP_URL', 'http://mail.example.test'],
    ['PUBLIC_URL', 'ftp://switchboard.example.test'],
    ['DATABASE_URL', 'http://db.example.test/switchboard'],
  ] as const) {
    it(`when ${name} is "${value}", then loading the configuration fails naming ${name}`, () => {
      expect(() => loadConfig({ [name]: value })).to.throw(ConfigError, new RegExp(`^${name}\\b`));
    });
  }

  it('when the documented forms are given, then they are accepted', () => {
    const config = loadConfig({
      LOG_LEVEL: 'debug', SMTP_URL: 'smtps://user:pass@mail.example.test:465', PUBLIC_URL: 'https://switchboard.example.test/', DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/postgres',
    });
    expect(config.logLevel).to.equal('debug');
    expect(config.publicUrl).to.equal('https://switchboard.example.test');
    expect(loadConfig({ SMTP_URL: 'smtp://mail.example.test:587', DATABASE_URL: 'postgres://postgres@127.0.0.1/postgres' }).smtpUrl).to.equal('smtp://mail.example.test:587');
  });
});
