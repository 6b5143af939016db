/** Typed connector errors: a closed set of kinds the engine translates once. */
export type ConnectorErrorKind = 'config' | 'auth' | 'network' | 'protocol';

export class ConnectorError extends Error {
  override readonly name: string = 'ConnectorError';
  readonly kind: ConnectorErrorKind;

  constructor(kind: ConnectorErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

/** A configuration that does not validate; `issues` lists every problem, one readable line each. */
export class ConnectorConfigError extends ConnectorError {
  override readonly name: string = 'ConnectorConfigError';
  readonly issues: readonly string[];

  constructor(issues: readonly string[], connectorKind?: string) {
    const prefix = connectorKind ? `invalid ${connectorKind} configuration` : 'invalid configuration';
    super('config', `${prefix}: ${issues.join('; ')}`);
    this.issues = issues;
  }
}

export function isConnectorError(error: unknown): error is ConnectorError {
  return error instanceof ConnectorError;
}
