// The emails Switchboard sends, as pure functions of their data: no I/O, no configuration. Links are built by the
// caller from PUBLIC_URL; every value is HTML-escaped in the HTML part.

export { mailKinds, type MailKind } from '../../domain/mail-kinds.js';

export interface MailRecipient {
  /** name.givenName: the greeting's first choice ("Hello Ann,"), as a person is addressed. */
  givenName?: string | null;
  displayName?: string | null;
  userName: string;
  email: string;
}

/** What the MiVB deployment details email tells the user (no secrets: those go in the credentials email). */
export interface MivbDeploymentDetails {
  /** The MiVoice Business User Portal address. */
  userPortalUrl: string;
  /** The User Portal login; defaults to the user's userName. */
  userPortalLogin?: string;
  /** The user's extension numbers. */
  extensions: string[];
  /** The phone (device) deployed to the user. */
  device?: { type: string; macAddress?: string; description?: string };
  /** Whether the user gets a MiCollab client; its section is only included when true. */
  miCollab?: boolean;
  /** The MiCollab server address the client connects to. */
  miCollabServer?: string;
  /** The MiCollab login; defaults to the user's userName. */
  miCollabLogin?: string;
}

/** The generated secrets of a MiVB deployment. */
export interface MivbDeploymentCredentials {
  userPortalPassword?: string;
  miCollabPassword?: string;
  phonePin?: string;
}

interface MailBase {
  /** The account's name, shown in every email. */
  accountName: string;
  user: MailRecipient;
}

export type MailTemplateInput =
  | (MailBase & { kind: 'welcome'; link: string; expiresAt?: Date })
  | (MailBase & { kind: 'password_reset'; link: string; expiresAt?: Date })
  | (MailBase & { kind: 'mivb_deployment_details'; details: MivbDeploymentDetails; link?: string })
  | (MailBase & { kind: 'mivb_deployment_credentials'; details: MivbDeploymentCredentials; link?: string });

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => htmlEscapes[c]);
}

/** A date as the emails show it: "2026-01-02 15:04 UTC". */
export function formatMailDate(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** One paragraph or block of an email, rendered to both parts. */
type Block =
  | { type: 'p'; text: string }
  | { type: 'link'; label: string; href: string }
  | { type: 'heading'; text: string }
  | { type: 'fields'; rows: Array<[label: string, value: string]> };

/** The first name when known, else the display name, else the user name (often an email address). */
function greetingName(user: MailRecipient): string {
  return user.givenName?.trim() || user.displayName?.trim() || user.userName;
}

function toText(blocks: Block[]): string {
  const parts = blocks.map((block) => {
    switch (block.type) {
      case 'p':
        return block.text;
      case 'link':
        return `${block.label}:\n${block.href}`;
      case 'heading':
        return `${block.text}\n${'-'.repeat(block.text.length)}`;
      case 'fields':
        return block.rows.map(([label, value]) => `${label}: ${value}`).join('\n');
    }
  });
  return `${parts.join('\n\n')}\n`;
}

function toHtml(subject: string, blocks: Block[]): string {
  const body = blocks
    .map((block) => {
      switch (block.type) {
        case 'p':
          return `<p>${escapeHtml(block.text)}</p>`;
        case 'link':
          return `<p><a href="${escapeHtml(block.href)}">${escapeHtml(block.label)}</a></p>`;
        case 'heading':
          return `<h2>${escapeHtml(block.text)}</h2>`;
        case 'fields':
          return `<table>${block.rows
            .map(([label, value]) => `<tr><th align="left">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`)
            .join('')}</table>`;
      }
    })
    .join('\n');
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>\n<body>\n${body}\n</body></html>\n`;
}

function render(subject: string, blocks: Block[]): RenderedMail {
  return { subject, text: toText(blocks), html: toHtml(subject, blocks) };
}

function expiry(expiresAt: Date | undefined, what: string): Block[] {
  return expiresAt ? [{ type: 'p', text: `${what} expires on ${formatMailDate(expiresAt)}.` }] : [];
}

function signature(accountName: string): Block {
  return { type: 'p', text: `This email was sent to you by ${accountName}.` };
}

export function renderMail(input: MailTemplateInput): RenderedMail {
  const { accountName, user } = input;
  const hello: Block = { type: 'p', text: `Hello ${greetingName(user)},` };
  switch (input.kind) {
    case 'welcome':
      return render(`Welcome to ${accountName}`, [
        hello,
        { type: 'p', text: `An account has been created for you at ${accountName}. Your user name is ${user.userName}.` },
        { type: 'p', text: 'To finish your registration and choose a password, open this link:' },
        { type: 'link', label: 'Complete your registration', href: input.link },
        ...expiry(input.expiresAt, 'The link'),
        signature(accountName),
      ]);
    case 'password_reset':
      return render(`Reset your ${accountName} password`, [
        hello,
        { type: 'p', text: `Someone asked to reset the password of your ${accountName} account (${user.userName}).` },
        { type: 'link', label: 'Choose a new password', href: input.link },
        ...expiry(input.expiresAt, 'The link'),
        { type: 'p', text: 'If you did not ask for this, ignore this email: your password stays as it is.' },
        signature(accountName),
      ]);
    case 'mivb_deployment_details': {
      const d = input.details;
      const blocks: Block[] = [
        hello,
        { type: 'p', text: `${accountName} has set up your MiVoice Business phone service. Here are your details.` },
        { type: 'heading', text: 'User Portal' },
        {
          type: 'fields',
          rows: [
            ['Address', d.userPortalUrl],
            ['Login', d.userPortalLogin ?? user.userName],
          ],
        },
        { type: 'heading', text: 'Phone' },
        {
          type: 'fields',
          rows: [
            [d.extensions.length === 1 ? 'Extension' : 'Extensions', d.extensions.join(', ') || 'none'],
            ...(d.device
              ? ([
                  ['Device', d.device.type],
                  ...(d.device.macAddress ? [['MAC address', d.device.macAddress]] : []),
                  ...(d.device.description ? [['Description', d.device.description]] : []),
                ] as Array<[string, string]>)
              : []),
          ],
        },
      ];
      if (d.miCollab) {
        blocks.push({ type: 'heading', text: 'MiCollab client' }, {
          type: 'fields',
          rows: [
            ...(d.miCollabServer ? ([['Server', d.miCollabServer]] as Array<[string, string]>) : []),
            ['Login', d.miCollabLogin ?? user.userName],
          ],
        });
      }
      if (input.link) blocks.push({ type: 'link', label: 'More information', href: input.link });
      blocks.push({ type: 'p', text: 'Your passwords and phone PIN are sent in a separate email.' }, signature(accountName));
      return render(`Your ${accountName} phone service details`, blocks);
    }
    case 'mivb_deployment_credentials': {
      const c = input.details;
      const rows: Array<[string, string]> = [];
      if (c.userPortalPassword !== undefined) rows.push(['User Portal password', c.userPortalPassword]);
      if (c.miCollabPassword !== undefined) rows.push(['MiCollab password', c.miCollabPassword]);
      if (c.phonePin !== undefined) rows.push(['Phone PIN', c.phonePin]);
      return render(`Your ${accountName} phone service credentials`, [
        hello,
        { type: 'p', text: `${accountName} has generated these credentials for your MiVoice Business phone service.` },
        { type: 'fields', rows },
        { type: 'p', text: 'Keep them private and change the passwords after your first login.' },
        signature(accountName),
      ]);
    }
  }
}
