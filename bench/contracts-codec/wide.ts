// A wide entity for bench/codec-speed.js: 50 fields of mixed types with realistic values.
// All but three (the false booleans) differ from their protobuf default, so the codec has to
// write nearly every field, as JSON does.
import { entity, rpc, type int32 } from 'p2pgen';

export type WideStatus = 'new' | 'active' | 'done';

@entity.name('wide-entity')
export class WideEntity {
  // 14 strings
  public id: string = 'f3b9c2d4-8a1e-4c7b-9d2f-6e5a4b3c2d1e';
  public name: string = 'Ada Lovelace';
  public email: string = 'ada@example.org';
  public title: string = 'Analyst';
  public description: string = 'Wrote the first published algorithm for a machine.';
  public street: string = '12 St James Square';
  public city: string = 'London';
  public zip: string = 'SW1Y 4JH';
  public country: string = 'United Kingdom';
  public phone: string = '+44 20 7946 0958';
  public company: string = 'Analytical Engines Ltd';
  public department: string = 'Research';
  public role: string = 'lead';
  public locale: string = 'en-GB';
  // 10 numbers (double)
  public latitude: number = 51.5074;
  public longitude: number = -0.1278;
  public balance: number = 1234.56;
  public rating: number = 4.7;
  public weight: number = 61.2;
  public height: number = 1.68;
  public discount: number = 0.15;
  public taxRate: number = 0.2;
  public score: number = 98.25;
  public temperature: number = -3.5;
  // 10 int32
  public age: int32 = 36;
  public loginCount: int32 = 1842;
  public followers: int32 = 120_000;
  public following: int32 = 310;
  public posts: int32 = 742;
  public comments: int32 = 5310;
  public likes: int32 = 98_000;
  public shares: int32 = 12_400;
  public version: int32 = 7;
  public priority: int32 = -2;
  // 8 booleans
  public active: boolean = true;
  public verified: boolean = true;
  public admin: boolean = false;
  public subscribed: boolean = true;
  public archived: boolean = false;
  public deleted: boolean = false;
  public premium: boolean = true;
  public twoFactor: boolean = true;
  // a date, a literal union, an optional
  public createdAt: Date = new Date('2024-03-01T12:34:56.789Z');
  public status: WideStatus = 'active';
  public nickname?: string = 'Countess';
  // 5 arrays
  public tags: string[] = ['math', 'engines', 'poetry', 'notes'];
  public roles: string[] = ['reader', 'writer', 'reviewer'];
  public aliases: string[] = ['A. A. L.', 'Enchantress of Numbers'];
  public recentScores: int32[] = [91, 88, 97, 100, 76, 85];
  public coordinates: number[] = [51.5074, -0.1278, 48.8566, 2.3522];
}

@rpc.controller('/wide')
export class WideController {
  @rpc.action()
  echo(value: WideEntity): WideEntity {
    return value;
  }
}
