import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type NodemailerError } from 'nodemailer';
import type { Logger } from '../../lib/logger.js';

// How a message leaves Switchboard: over SMTP (SMTP_URL) or, without SMTP_URL, as .eml files under DATA_DIR/mail.

export interface MailerMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** RFC 5322 Message-ID with its angle brackets; the same on every attempt of one message. */
  messageId: string;
}

export interface MailerSendOptions {
  /** Aborts the send (e.g. when the worker's lease on the message is about to end). */
  signal?: AbortSignal;
}

export interface Mailer {
  /** Resolves once the message is accepted (by the SMTP server, or written to disk); rejects with a MailerError-like error otherwise. */
  send(msg: MailerMessage, options?: MailerSendOptions): Promise<void>;
  close(): Promise<void>;
}

/** Whether a send error will happen again on retry (a 5xx refusal) or may not (4xx, connection or timeout errors). */
export function isPermanentMailError(error: unknown): boolean {
  const err = error as Partial<NodemailerError> | undefined;
  if (!err || typeof err !== 'object') return false;
  // A refused login is a configuration problem that an operator fixes: keep retrying until then.
  if (err.code === 'EAUTH' || err.code === 'ENOAUTH') return false;
  if (typeof err.permanent === 'boolean') return err.permanent;
  if (typeof err.responseCode === 'number') return err.responseCode >= 500 && err.responseCode !== 503;
  // An envelope nodemailer itself refuses (no or malformed recipient) will be refused again.
  return err.code === 'EENVELOPE';
}

/** A short, secret-free description of a send error for outbox.last_error and logs. */
export function describeMailError(error: unknown): string {
  const err = error as Partial<NodemailerError> & { message?: string };
  const parts = [err?.code, err?.originalCode && err.originalCode !== err.code ? err.originalCode : undefined, err?.message ?? String(error)];
  return parts.filter(Boolean).join(': ');
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '[unparseable SMTP_URL]';
  }
}

/** The fields nodemailer takes from one of our messages (the same for every transport). */
const nodemailerMessage = (msg: MailerMessage) => ({ from: msg.from, to: msg.to, subject: msg.subject, text: msg.text, html: msg.html, messageId: msg.messageId });

export interface SmtpMailerOptions {
  /** Pooled connections; match the worker's concurrency. Default 8. */
  maxConnections?: number;
  /** Messages per connection before it is recycled. Default 1000. */
  maxMessages?: number;
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
}

/**
 * An SMTP mailer over a nodemailer pool. smtp:// upgrades with STARTTLS when the server offers it, smtps:// is TLS
 * from the start; user and password come from the URL; other transport options may be given as query parameters
 * (e.g. `?tls.rejectUnauthorized=false` for a self-signed relay, `?requireTLS=true` to refuse plaintext).
 */
export function createSmtpMailer(smtpUrl: string, options: SmtpMailerOptions = {}): Mailer {
  const transport = nodemailer.createTransport({
    url: smtpUrl,
    pool: true,
    maxConnections: options.maxConnections ?? 8,
    maxMessages: options.maxMessages ?? 1000,
    connectionTimeout: options.connectionTimeoutMs ?? 15_000,
    greetingTimeout: options.greetingTimeoutMs ?? 15_000,
    socketTimeout: options.socketTimeoutMs ?? 30_000,
  });
  return {
    async send(msg, sendOptions) {
      await transport.sendMail({ ...nodemailerMessage(msg), ...(sendOptions?.signal ? { signal: sendOptions.signal } : {}) });
    },
    async close() {
      transport.close();
    },
  };
}

/** A file name for a Message-ID: the id without brackets, with anything outside [A-Za-z0-9._@-] replaced. */
export function emlFileName(messageId: string): string {
  return `${messageId.replace(/^<|>$/g, '').replace(/[^A-Za-z0-9._@-]/g, '_')}.eml`;
}

/**
 * Writes each message as `<message-id>.eml` under `dir`. Writing the same Message-ID again replaces the file, so a
 * retried message is still one file. Each file written is logged with its path: without SMTP the log is how a
 * developer finds the welcome email of the user just created.
 */
export function createFileMailer(dir: string, logger?: Logger): Mailer {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  let ready: Promise<unknown> | undefined;
  return {
    async send(msg) {
      ready ??= fs.mkdir(dir, { recursive: true });
      await ready;
      const info = await transport.sendMail(nodemailerMessage(msg));
      const file = path.join(dir, emlFileName(msg.messageId));
      const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await fs.writeFile(temp, info.message as Buffer);
      await fs.rename(temp, file);
      logger?.info({ file, to: msg.to, subject: msg.subject }, `mail to ${msg.to} written to ${file}`);
    },
    async close() {
      transport.close();
    },
  };
}

export interface MailerConfig {
  smtpUrl?: string;
  dataDir: string;
  logger: Logger;
  maxConnections?: number;
}

/** The mailer the configuration asks for, saying at start-up which one it is. */
export function createMailerFromConfig(config: MailerConfig): Mailer {
  if (config.smtpUrl) {
    config.logger.info({ smtp: redactUrl(config.smtpUrl) }, `mail is sent over SMTP to ${redactUrl(config.smtpUrl)}`);
    return createSmtpMailer(config.smtpUrl, { maxConnections: config.maxConnections });
  }
  const dir = path.join(config.dataDir, 'mail');
  config.logger.warn({ dir }, `mail is written as .eml files under ${dir} because SMTP_URL is not set`);
  return createFileMailer(dir, config.logger);
}
