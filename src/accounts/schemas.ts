// Request and response schemas of the accounts API (validation, types and OpenAPI at once).
import { Type } from 'typebox';
import { MAX_PASSWORD_LENGTH } from './passwords.js';

export const UserSchema = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String(),
    email: Type.String(),
    phone_number: Type.Union([Type.String(), Type.Null()]),
    phone_verified: Type.Boolean(),
    date_joined: Type.String({ format: 'date-time' }),
  },
  { $id: 'User' },
);

export const RegisterBody = Type.Object({
  username: Type.String({ maxLength: 150 }),
  email: Type.String({ maxLength: 254 }),
  password: Type.String({ maxLength: MAX_PASSWORD_LENGTH }),
  phone_number: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
});

export const LoginBody = Type.Object({
  username: Type.String({ maxLength: 254, description: 'Username or email, any case' }),
  password: Type.String({ maxLength: 4096 }),
});

export const AuthAnswer = Type.Object({
  message: Type.String(),
  token: Type.String(),
  user: UserSchema,
});

export const ProfileChangesBody = Type.Object({
  email: Type.Optional(Type.String({ maxLength: 254 })),
  phone_number: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
  password: Type.Optional(Type.String({ maxLength: MAX_PASSWORD_LENGTH })),
  // Passwords set before the cap may be longer; login and current_password still accept them.
  current_password: Type.Optional(Type.String({ maxLength: 4096 })),
});
