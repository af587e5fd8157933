/**
 * Security at the broker. Subclass RpcKernelSecurity and pass it as `security` to createBroker;
 * the default lets anyone connect (anonymously), register any free peer id and call anyone.
 * Every hook is called with a deadline (the broker's `hookTimeoutMs`); a hook that throws,
 * answers anything but `true`, or does not answer in time says no.
 */

/** Who is on a connection, as `authenticate` decided. */
export class Session {
  constructor(
    readonly username: string,
    /** The token the client connected with, if `authenticate` chose to keep it (the default keeps none). */
    readonly token?: unknown,
  ) {}

  isAnonymous(): boolean {
    return this.username === 'anonymous' || this.username === '';
  }

  isAuthenticated(): boolean {
    return !this.isAnonymous();
  }
}

/**
 * The default's session, one for every connection: an anonymous session holds nothing of its
 * own, and one per connection was 40 bytes per idle peer. Frozen, so a hook cannot mark it for
 * one connection and thereby for all.
 */
const anonymousSession = Object.freeze(new Session('anonymous'));

/** What the broker knows about a connection when it authenticates it. */
export interface ConnectionInfo {
  /** The peer's address as the socket sees it (behind a proxy: the proxy's; read `x-forwarded-for` from `headers` if you trust it). */
  readonly remoteAddress: string;
  /** The HTTP upgrade request's headers, lower-cased (`cookie`, `origin`, `authorization`, …): cookies are the only credential a browser can send on a WebSocket upgrade. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The URL the client asked for (path and query, e.g. `/rpc?room=7`). */
  readonly url: string;
}

const authenticationErrorBrand = Symbol.for('p2pgen.AuthenticationError');

/**
 * Throw it from `authenticate` to refuse a connection with a message meant for the client
 * (at most 1,024 characters reach it). Anything else thrown there reaches the client only as
 * "Authentication failed"; its text goes to the audit log.
 */
export class AuthenticationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthenticationError';
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [authenticationErrorBrand]?: true })[authenticationErrorBrand] === true;
  }
}
Object.defineProperty(AuthenticationError.prototype, authenticationErrorBrand, { value: true });

export class RpcKernelSecurity {
  /**
   * Turns the token a client connects with into a Session; throw to refuse the connection
   * (the client gets AUTHENTICATION_FAILED). `connection` says where it comes from: remote
   * address, upgrade headers, URL. Overrides taking only `token` keep working. The default
   * gives every client the same anonymous session, frozen: a hook that keeps something per
   * connection needs an override that makes a session per connection.
   */
  async authenticate(_token: unknown, _connection?: ConnectionInfo): Promise<Session> {
    return anonymousSession;
  }

  /** Asked on every registration of a peer id. */
  async isAllowedToRegisterAsPeer(_session: Session, _peerId: string): Promise<boolean> {
    return true;
  }

  /**
   * Asked before the first call from a connection to a peer id; the answer is cached until
   * either side registers again or the broker is told to forget (`broker.invalidateSecurity()`).
   * Also asked about an id nobody holds (the answer decides whether the caller hears
   * PEER_NOT_FOUND or ACCESS_DENIED), so that nobody can probe which ids are online.
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

  /** Asked on every join of a group (docs/groups.md): may `session` have `peerId`, one of its ids, join `group`? */
  async isAllowedToJoinGroup(_session: Session, _group: string, _peerId: string): Promise<boolean> {
    return true;
  }

  /**
   * Asked before the first group call (or any-peer call within a group) from a connection to
   * `group`, and cached like isAllowedToSendToPeer. Yes lets its calls reach every member of
   * the group (each member chose to join it); no refuses them with ACCESS_DENIED.
   */
  async isAllowedToSendToGroup(_session: Session, _group: string): Promise<boolean> {
    return true;
  }
}

/** Whether `security` still has the default isAllowedToSendToPeer (yes to everyone: nothing to ask). */
export function allowsEveryone(security: RpcKernelSecurity): boolean {
  return security.isAllowedToSendToPeer === RpcKernelSecurity.prototype.isAllowedToSendToPeer;
}

/** Whether `value` can serve as a session: a Session (or a class of the user's) with a username; `undefined` and the like are refused. */
export function isSession(value: unknown): value is Session {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Session>;
  return typeof candidate.username === 'string' && typeof candidate.isAuthenticated === 'function' && typeof candidate.isAnonymous === 'function';
}
