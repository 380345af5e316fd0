/** Who is calling, as an auth provider decided. */
export interface Principal {
  /** Stable identifier for logs, never a secret. */
  id: string;
  /** May use the admin API. */
  admin: boolean;
  /** Instances this principal may use over MCP; `'*'` for all. */
  instances: '*' | readonly string[];
  /**
   * The verified claims of the credential, for providers that have them (an OAuth access token's
   * payload). Tools can send allow-listed claims upstream (`${claim:NAME}`); never logged.
   */
  claims?: Readonly<Record<string, unknown>>;
}

/** The parts of an HTTP request an auth provider may look at. */
export interface AuthRequest {
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * The protected resource the request is for, when the gateway knows its public URL
   * (`server.publicUrl`): on `/mcp/<id>`, `<publicUrl>/mcp/<id>`. Providers of audience-bound
   * tokens (RFC 8707) accept only tokens issued for it; absent on the admin API.
   */
  resource?: string;
}

/**
 * Decides who is calling. Returns a principal, `undefined` when the request carries no credential
 * this provider understands (the next provider is asked), or throws `GatewayError('UNAUTHORIZED')`
 * for a credential it understands and rejects.
 */
export interface AuthProvider {
  readonly name: string;
  authenticate(request: AuthRequest): Promise<Principal | undefined> | Principal | undefined;
}
