/** WebSocket close codes of the protocol (docs/wire.md, "Errors and close codes"). */
export const CloseCode = {
  Normal: 1000,
  /** The broker is shutting down (or dropped a connection that stopped answering). */
  GoingAway: 1001,
  /** A malformed frame. */
  ProtocolError: 1002,
  /** Authentication failed, or no hello in time. */
  PolicyViolation: 1008,
  /** A frame over the limit. */
  TooBig: 1009,
  /** More bytes waited to be written to the connection than the broker holds for one (`maxBufferedBytes`): it reads too slowly. */
  SlowReader: 4001,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
