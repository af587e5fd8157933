/**
 * Where in the contracts a type is being mapped (`MapContext`), and how a problem found there
 * becomes a located diagnostic (`Reporter`). The mapper, its handlers and the registry of named
 * types all take these; this module depends on none of them, so they do not depend on each other.
 */
import type { Node, Type } from 'ts-morph';
import type { SourceRef } from '../model/contract-model.js';
import type { Diagnostic } from '../diagnostics.js';

/** Where a type is being mapped: for locations, element paths and synthesized names. */
export interface MapContext {
  /** The declaration the type comes from (parameter, property, method). */
  node: Node;
  /** Element path for diagnostics, e.g. `ChatPeerController.sendMessage(message).from`. */
  path: string;
  /** Prefix for names of anonymous types found here, e.g. `ChatPeerControllerSendMessageMessage`. */
  owner: string;
}

/** Turns a node into a source location, and a problem at a place in the contracts into a diagnostic. */
export interface Reporter {
  locate(node: Node): SourceRef;
  report(ctx: { node: Node; path: string }, code: Diagnostic['code'], message: string, type?: Type): void;
}
