import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface SmtpTestServerOptions {
  /** Refuse the first N messages (at the end of DATA). */
  failFirst?: number;
  /** How refused messages are refused: 451 (temporary, the default) or 550 (permanent). */
  failWith?: 'temporary' | 'permanent';
  /** Require this login; without it, authentication is optional. */
  auth?: { user: string; pass: string };
  /** Wait this long before accepting each message (to stop a worker mid-way). */
  delayMs?: number;
  /**
   * Hold every transaction at RCPT TO, before the client sends any of the message, until `release()`: a client
   * killed meanwhile leaves a transaction that delivered nothing (counted in `cut`).
   */
  holdAtRecipient?: boolean;
}

export interface SmtpTestServer {
  /** smtp://127.0.0.1:port (with the credentials when auth is required). */
  url: string;
  port: number;
  /** Every accepted message, parsed, in the order they were accepted. */
  messages: ParsedMail[];
  /** How many messages were refused on purpose. */
  refused: number;
  /** Transactions held at RCPT TO now (holdAtRecipient). */
  held: number;
  /** Connections closed by the client in the middle of a transaction: after RCPT TO, before its message was accepted. */
  cut: number;
  /** Lets held transactions go on, and stops holding new ones. */
  release(): void;
  /** Resolves once `count` messages were accepted; rejects after timeoutMs. */
  waitFor(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  stop(): Promise<void>;
}

function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** A real SMTP server on a free loopback port, without TLS, that keeps what it receives. */
export async function startSmtpTestServer(options: SmtpTestServerOptions = {}): Promise<SmtpTestServer> {
  const messages: ParsedMail[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let toRefuse = options.failFirst ?? 0;
  const state = { refused: 0, cut: 0, holding: options.holdAtRecipient === true };
  const held: Array<() => void> = [];
  /** Sessions between RCPT TO and the acceptance of their message. */
  const open = new Set<string>();

  const server = new SMTPServer({
    secure: false,
    hideSTARTTLS: true,
    authOptional: !options.auth,
    disabledCommands: options.auth ? [] : ['AUTH'],
    allowInsecureAuth: true,
    logger: false,
    maxClients: 1000,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
        callback(null, { user: auth.username });
      } else {
        const error = new Error('Invalid username or password') as Error & { responseCode: number };
        error.responseCode = 535;
        callback(error);
      }
    },
    onRcptTo(_address, session, callback) {
      open.add(session.id);
      if (!state.holding) return callback();
      held.push(() => callback());
    },
    onClose(session) {
      if (open.delete(session.id)) state.cut++;
    },
    onData(stream, session, callback) {
      readAll(stream)
        .then(async (raw) => {
          if (toRefuse > 0) {
            toRefuse--;
            state.refused++;
            open.delete(session.id);
            const permanent = options.failWith === 'permanent';
            const error = new Error(permanent ? '5.1.1 Mailbox unavailable' : '4.3.0 Try again later') as Error & { responseCode: number };
            error.responseCode = permanent ? 550 : 451;
            callback(error);
            return;
          }
          if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
          messages.push(await simpleParser(raw));
          open.delete(session.id);
          callback(null, 'Message queued');
          for (const waiter of waiters.filter((w) => messages.length >= w.count)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve();
          }
        })
        .catch((error: Error) => callback(error));
    },
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  const credentials = options.auth ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.pass)}@` : '';

  return {
    url: `smtp://${credentials}127.0.0.1:${port}`,
    port,
    messages,
    get refused() {
      return state.refused;
    },
    get held() {
      return held.length;
    },
    get cut() {
      return state.cut;
    },
    release() {
      state.holding = false;
      for (const go of held.splice(0)) go();
    },
    waitFor(count, timeoutMs = 10_000) {
      if (messages.length >= count) return Promise.resolve(messages);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`SMTP test server got ${messages.length} of ${count} messages in ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = {
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(messages);
          },
        };
        waiters.push(waiter);
      });
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
