/**
 * Security at the broker. Subclass RpcKernelSecurity and pass it as `security` to createBroker;
 * the default lets anyone connect (anonymously), register any free peer id and call anyone.
 */

/** Who is on a connection, as `authenticate` decided. */
export class Session {
  constructor(
    readonly username: string,
    /** The token the client connected with (if any). */
    readonly token?: unknown,
  ) {}

  isAnonymous(): boolean {
    return this.username === 'anonymous' || this.username === '';
  }

  isAuthenticated(): boolean {
    return !this.isAnonymous();
  }
}

export class RpcKernelSecurity {
  /**
   * Turns the token a client connects with into a Session; throw to refuse the connection
   * (the client gets AUTHENTICATION_FAILED). Clients without a token get an anonymous session.
   */
  async authenticate(token: unknown): Promise<Session> {
    return new Session('anonymous', token);
  }

  /** Asked on every registration of a peer id. */
  async isAllowedToRegisterAsPeer(_session: Session, _peerId: string): Promise<boolean> {
    return true;
  }

  /**
   * Asked before the first call from a connection to a peer; the answer is cached until
   * either side registers again or the broker is told to forget (`broker.invalidateSecurity()`).
   */
  async isAllowedToSendToPeer(_session: Session, _peerId: string): Promise<boolean> {
    return true;
  }

  /**
   * Optional finer control: define it in a subclass to decide per action. Asked once per
   * (connection, target registration, action), after isAllowedToSendToPeer said yes, and cached
   * the same way. `controller` is the path (e.g. '/chat'), `action` the action name; both are
   * as the target announced them (a target that announced nothing gives '?' and the keys).
   */
  isAllowedToCall?(session: Session, peerId: string, controller: string, action: string): Promise<boolean>;
}
