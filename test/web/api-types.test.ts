// The client's hand-written API types are the server's: checked by `tsc --noEmit` (npm run
// typecheck), since these types sit beside server-only code the web build must not follow.
import type { Static } from 'typebox';
import { expectTypeOf, it } from 'vitest';
import type { AuthAnswer as AuthAnswerSchema, UserSchema } from '../../src/accounts/schemas.js';
import type { AuthAnswer, User } from '../../web/src/api.js';

it('declares the user and the sign-in answer as the server sends them', () => {
  expectTypeOf<User>().toEqualTypeOf<Static<typeof UserSchema>>();
  expectTypeOf<AuthAnswer>().toEqualTypeOf<Static<typeof AuthAnswerSchema>>();
});
