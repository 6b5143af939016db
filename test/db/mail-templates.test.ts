import { expect } from 'chai';
import { escapeHtml, renderMail, type MailRecipient } from '../../src/services/mail/mail-templates.js';

// Pure: the templates need no database; they sit with the other mail tests.

const user: MailRecipient = { displayName: 'Ann <Admin>', userName: 'ann', email: 'ann@example.test' };
const accountName = 'Acme & "Sons" <b>';

describe('mail templates', () => {
  it('when a welcome email is rendered, then the account name and the registration link are in every part, HTML-escaped', () => {
    const link = 'https://portal.example.test/register?token=a&b=<c>';
    const mail = renderMail({ kind: 'welcome', accountName, user, link, expiresAt: new Date('2026-12-01T10:30:00Z') });

    expect(mail.subject).to.equal('Welcome to Acme & "Sons" <b>');
    expect(mail.text).to.contain(accountName).and.contain(link).and.contain('2026-12-01 10:30 UTC').and.contain('Hello Ann <Admin>,');
    expect(mail.html).to.contain('Acme &amp; &quot;Sons&quot; &lt;b&gt;');
    expect(mail.html).to.contain('href="https://portal.example.test/register?token=a&amp;b=&lt;c&gt;"');
    expect(mail.html).to.contain('Hello Ann &lt;Admin&gt;,');
    expect(mail.html).not.to.contain('<b>').and.not.contain('<Admin>');
  });

  it('when a password reset email is rendered, then it carries the account name and the reset link', () => {
    const mail = renderMail({ kind: 'password_reset', accountName: 'Acme', user, link: 'https://p.test/reset?t=1' });
    expect(mail.subject).to.equal('Reset your Acme password');
    expect(mail.text).to.contain('https://p.test/reset?t=1').and.contain('Acme');
    expect(mail.html).to.contain('href="https://p.test/reset?t=1"');
  });

  it('when the first name is known, then the greeting uses it rather than the display or user name', () => {
    const mail = renderMail({ kind: 'welcome', accountName: 'Contoso', user: { givenName: 'G1', displayName: 'G1 Smith', userName: 'user1@contoso.com', email: 'user1@contoso.com' }, link: 'https://p.test/r' });
    expect(mail.text).to.match(/^Hello G1,\n/);
    expect(mail.html).to.contain('<p>Hello G1,</p>');
  });

  it('when the first name is blank, then the greeting falls back to the display name', () => {
    const mail = renderMail({ kind: 'welcome', accountName: 'Contoso', user: { givenName: '  ', displayName: 'G1 Smith', userName: 'user1@contoso.com', email: 'user1@contoso.com' }, link: 'https://p.test/r' });
    expect(mail.text).to.match(/^Hello G1 Smith,\n/);
  });

  it('when the user has no display name, then the greeting uses the user name', () => {
    const mail = renderMail({ kind: 'password_reset', accountName: 'Acme', user: { userName: 'bob', email: 'b@x.test' }, link: 'https://p.test/r' });
    expect(mail.text).to.contain('Hello bob,');
  });

  it('when MiVB deployment details are rendered with MiCollab, then the User Portal, phone and MiCollab client sections are present', () => {
    const mail = renderMail({
      kind: 'mivb_deployment_details',
      accountName: 'Acme',
      user,
      details: {
        userPortalUrl: 'https://mivb.acme.test/portal',
        extensions: ['2001', '2002'],
        device: { type: '6930', macAddress: '00:08:5D:11:22:33' },
        miCollab: true,
        miCollabServer: 'micollab.acme.test',
      },
    });
    expect(mail.subject).to.equal('Your Acme phone service details');
    expect(mail.text).to.contain('User Portal').and.contain('https://mivb.acme.test/portal').and.contain('Login: ann');
    expect(mail.text).to.contain('Extensions: 2001, 2002').and.contain('Device: 6930').and.contain('00:08:5D:11:22:33');
    expect(mail.text).to.contain('MiCollab client').and.contain('Server: micollab.acme.test');
    expect(mail.html).to.contain('<h2>MiCollab client</h2>');
  });

  it('when MiVB deployment details are rendered without MiCollab, then there is no MiCollab section', () => {
    const mail = renderMail({
      kind: 'mivb_deployment_details',
      accountName: 'Acme',
      user,
      details: { userPortalUrl: 'https://mivb.acme.test/portal', extensions: ['2001'], miCollab: false },
    });
    expect(mail.text).to.contain('Extension: 2001').and.not.contain('MiCollab');
  });

  it('when MiVB credentials are rendered, then the passwords and the phone PIN are in it, escaped in HTML', () => {
    const mail = renderMail({
      kind: 'mivb_deployment_credentials',
      accountName: 'Acme',
      user,
      details: { userPortalPassword: 'p<&>w', miCollabPassword: 'mc-pass', phonePin: '4711' },
    });
    expect(mail.subject).to.equal('Your Acme phone service credentials');
    expect(mail.text).to.contain('User Portal password: p<&>w').and.contain('MiCollab password: mc-pass').and.contain('Phone PIN: 4711');
    expect(mail.html).to.contain('p&lt;&amp;&gt;w').and.contain('4711');
  });

  it('when text holds every HTML special character, then escapeHtml replaces each', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).to.equal('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
});
