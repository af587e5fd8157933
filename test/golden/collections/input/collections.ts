// Tuples, Sets and typed arrays: what games and numeric work send in bulk, and how Deepkit
// users write pairs and unique lists.
import { rpc, type int32, type MaxLength } from 'p2pgen';

export type Vec2 = [number, number];

export interface Frame {
  at: Vec2;
  positions: Float32Array;
  indices: Uint32Array;
  heights: Int16Array & MaxLength<4096>;
  ids: BigInt64Array;
  tags: Set<string>;
  corners?: [Vec2, Vec2];
}

@rpc.controller('/scene')
export class SceneController {
  @rpc.action()
  push(frame: Frame, weights: Float64Array): int32 {
    return frame.positions.length;
  }

  @rpc.action()
  nearest(to: Vec2, among: Set<int32>): [int32, number] | null {
    return null;
  }

  @rpc.action()
  history(): Float32Array[] {
    return [];
  }
}
