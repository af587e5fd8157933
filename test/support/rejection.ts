import { expect } from 'vitest';
import { RpcError } from '../../runtime/index.node.js';

/** The RpcError a promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${typeof value === 'bigint' ? `${value}n` : JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RpcError);
  return error as RpcError;
}

/** The code of the RpcError a promise rejects with. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  return (await rejection(promise)).code;
}
